"""nbgrader settings of the course. `autograde/course.py` loads this file; the course directory
root is wherever this file lives, so the folder can be copied elsewhere (tests do)."""

import os

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

c.CourseDirectory.course_id = "llm-course"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))

# Student editions: what replaces the code between ### BEGIN SOLUTION and ### END SOLUTION.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Grading: one slow cell must not sink a whole notebook, and a test cell that a student's
# editor stripped of its metadata is put back from the source instead of needing manual grading.
c.Execute.timeout = 300
c.OverwriteCells.add_missing_cells = True

# `nbgrader export` writes here, not to grades.csv (the grader's own, with notes and late penalties).
c.CsvExportPlugin.to = "nbgrader_grades.csv"

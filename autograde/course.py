"""``make``'s entry to the course's command line, :mod:`llmcourse.grading.cli` (also installed as
``llmcourse-grade``): release student notebooks, grade submissions, the mutation suite.

    python autograde/course.py --help
"""

import sys

from llmcourse.grading.cli import main

if __name__ == "__main__":
    sys.exit(main())

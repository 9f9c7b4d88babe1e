"""What grading a submission produced: per exercise and per submission, as stored in
``autograde/results/`` and read by the reports and exports. Plain data, no process in sight."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field

SANDBOX_FAILED = "the grader's sandbox failed: "  # the grader's own failure, never the student's


@dataclass
class ExerciseResult:
    name: str
    test_cell: str
    points: float
    max_points: float
    status: str  # passed | failed | timeout | oom | died | forbidden | missing | error
    subchecks: dict[str, float] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)  # one per failed requirement, for the student
    cell_errors: list[str] = field(default_factory=list)
    output: str = ""
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for grades.csv: what happened, with the first line of the first message."""
        head = f"{self.name} {self.points:g}/{self.max_points:g} {self.status}"
        if self.status == "passed" or not self.messages:
            return head
        first = self.messages[0].splitlines()[0]
        likely = next(
            (
                line.strip()
                for m in self.messages
                for line in m.splitlines()
                if line.strip().startswith("Likely mistake:")
            ),
            "",
        )
        hints = [m for m in self.messages[1:] if "does not run while grading" in m]
        return "; ".join([f"{head}: {first}", likely, *hints]).rstrip("; ")


@dataclass
class SubmissionResult:
    student: str
    chapter: str
    status: str = "graded"  # graded | error | missing (a roster student) | excused (by the instructor)
    exercises: list[ExerciseResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    network: str = "cut"
    checks: str = ""  # the checks it was graded with (a module, or a release's snapshot file)
    late_penalty: float = 0.0  # points taken off for lateness (see llmcourse.grading.term)
    review: list[str] = field(default_factory=list)  # constructs for the instructor to look at (cost nothing)
    overridden: dict[str, float] = field(
        default_factory=dict
    )  # exercise -> the grader's points, where the instructor set others

    @property
    def raw_score(self) -> float | None:
        return sum(e.points for e in self.exercises) if self.status == "graded" else None

    @property
    def score(self) -> float | None:
        raw = self.raw_score
        return None if raw is None else max(0.0, raw - self.late_penalty)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SubmissionResult:
        """A result from :meth:`to_dict`'s data, sharing no list or dict with it."""
        data = copy.deepcopy(data)
        exercises = [ExerciseResult(**e) for e in data.get("exercises", [])]
        return cls(**{**data, "exercises": exercises})

    @property
    def max_score(self) -> float:
        return sum(e.max_points for e in self.exercises)

    @property
    def details(self) -> str:
        return "; ".join(f"{e.test_cell}={e.points:g}/{e.max_points:g}" for e in self.exercises)


def not_graded_when_the_sandbox_failed(result: SubmissionResult) -> None:
    """A submission one of whose exercises the grader's own sandbox failed to run is not graded
    (status "error", kept out of the gradebook, graded again by the next run): the student
    loses no points to the grader's failure."""
    failed = [
        e for e in result.exercises if e.status == "error" and any(m.startswith(SANDBOX_FAILED) for m in e.messages)
    ]
    if failed and result.status == "graded":
        result.status = "error"
        result.notes.append(
            f"not graded: {failed[0].messages[0]} (in {', '.join(e.name for e in failed)}); "
            "the next run grades it again"
        )

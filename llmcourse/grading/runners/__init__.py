"""Student-side runners: how each chapter calls an answer on a case's inputs.

``llmcourse.grading.runners.chNN`` holds the ``run`` functions of chapter NN's exercises
(``Exercise.run``, see :mod:`llmcourse.grading.contract`) and the helpers they need, such as the
small models an answer runs on. Each module ends with ``RUNNERS: dict[str, Callable]``, one entry
per key of the chapter's ``EXERCISES``; the checks module declares ``run=RUNNERS[key]``.

They run in the student's process, so they never import a checks module
(``llmcourse.grading.chNN``, with its expected values and mistake catalogue) nor an oracle
(sacrebleu, rouge_score, scikit-learn, peft): only the standard library, numpy, torch,
transformers' model classes, :mod:`llmcourse.grading.contract` and llmcourse's non-grading modules.
"""

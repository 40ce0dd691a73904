"""Grading the course's homework with nbgrader (course root: ``assignments/``).

``python -m course_utils.grading release|autograde|feedback`` is what
``make release``, ``make autograde`` and ``make feedback`` run; see
:mod:`course_utils.grading.pipeline`. :mod:`course_utils.grading.checks` is
what the notebooks' test cells import; it needs only torch.
"""

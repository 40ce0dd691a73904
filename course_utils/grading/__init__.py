"""Grading the course's homework with nbgrader (course root: ``assignments/``): the instructor's machinery.

``python -m course_utils.grading release|autograde|feedback`` is what
``make release``, ``make autograde`` and ``make feedback`` run; see
:mod:`course_utils.grading.pipeline` for the layers. What the notebooks' test
cells import is elsewhere, in :mod:`course_utils.homework_checks` (it needs
only torch and safetensors); no module of this package runs inside the
grading kernel.
"""

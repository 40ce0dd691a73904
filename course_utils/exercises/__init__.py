"""Self-checks for the lectures' exercises, one module per lecture.

``from course_utils.exercises.tensors import check_...`` in lecture 01, and
so on; every check is built on :mod:`course_utils.selfcheck`.
"""

"""The package's public surface: version and lazily imported helpers."""
import re

import pytest

import course_utils


def test_has_a_version_string():
    assert re.fullmatch(r"\d+\.\d+\.\d+", course_utils.__version__)


def test_every_public_name_resolves():
    for name in course_utils.__all__:
        assert getattr(course_utils, name) is not None, name


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        course_utils.nope

"""budget / is_quick_run: COURSE_QUICK_RUN is the only thing that shortens training."""
import pytest

from course_utils import budget, is_quick_run


@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_quick_run_when_switch_is_on(monkeypatch, value):
    monkeypatch.setenv("COURSE_QUICK_RUN", value)
    assert is_quick_run()
    assert budget(full=10, quick=2) == 2


@pytest.mark.parametrize("value", [None, "", "0", "false", "off"])
def test_full_run_when_switch_is_off_or_unset(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("COURSE_QUICK_RUN", raising=False)
    else:
        monkeypatch.setenv("COURSE_QUICK_RUN", value)
    assert not is_quick_run()
    assert budget(full=10, quick=2) == 10


def test_unknown_value_is_an_error_that_names_the_valid_ones(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK_RUN", "maybe")
    with pytest.raises(ValueError, match="use 1 to shorten training"):
        is_quick_run()

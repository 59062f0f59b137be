from shared.runtime.progress import QUIET_BELOW, progress


def test_long_loops_show_a_bar_and_yield_everything(capsys):
    assert list(progress(iter(range(20)), total=20, label="features")) == list(range(20))
    out = capsys.readouterr().out
    assert out.startswith("features\n") and "20/20" in out


def test_short_or_silent_loops_print_nothing(capsys):
    assert list(progress(range(QUIET_BELOW - 1), total=QUIET_BELOW - 1, label="x")) == list(range(QUIET_BELOW - 1))
    assert list(progress(range(50), total=50, label="x", verbose=0)) == list(range(50))
    assert capsys.readouterr().out == ""

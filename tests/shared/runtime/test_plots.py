from shared.runtime.plots import plot_history


def test_plot_history_writes_a_png(tmp_path):
    history = [{"epoch": 0, "loss": 0.6, "val_loss": 0.5}, {"epoch": 1, "loss": 0.4, "val_loss": 0.45}]
    path = plot_history(history, ["loss"], tmp_path / "images" / "curves.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

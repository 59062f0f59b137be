"""predict.py clients open any image Pillow can and send JPEG bytes the served models decode."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from shared.runtime.serving import image_file_as_jpeg


def _picture(width=64, height=40):
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, : width // 2] = (200, 30, 30)  # left half red, right half black: orientation shows
    return Image.fromarray(pixels)


@pytest.mark.parametrize("fmt", ["WEBP", "TIFF", "PNG", "BMP", "GIF"])
def test_other_formats_become_jpeg_of_the_same_picture(tmp_path, fmt):
    path = tmp_path / f"picture.{fmt.lower()}"
    _picture().save(path, format=fmt)
    data = image_file_as_jpeg(path)
    assert data[:3] == b"\xff\xd8\xff"
    decoded = tf.io.decode_jpeg(data).numpy()  # what the model's graph does with it
    assert decoded.shape == (40, 64, 3)
    assert decoded[:, :28, 0].mean() > 150 and decoded[:, 36:, 0].mean() < 40


def test_a_fitting_jpeg_is_sent_byte_for_byte(tmp_path):
    path = tmp_path / "photo.jpg"
    _picture().save(path, format="JPEG")
    assert image_file_as_jpeg(path) == path.read_bytes()


def test_large_images_are_shrunk_and_exif_rotation_applied(tmp_path):
    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display", as phones write it
    _picture(3000, 2000).save(path, format="JPEG", exif=exif)
    with Image.open(io.BytesIO(image_file_as_jpeg(path))) as sent:
        assert sent.size == (683, 1024)  # upright (portrait) and at most 1024 on the longest side


def test_a_file_that_is_no_image_gets_a_clear_error(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("not an image")
    with pytest.raises(ValueError, match="not an image Pillow can read"):
        image_file_as_jpeg(path)

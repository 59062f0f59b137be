"""Every signature's stated cost limits, over REST in a TensorFlow-only process (shared/runtime/bare_tf.py --serve).

For each limit: the request at it is answered, the one just over it is refused with HTTP 400 and a message
that names the limit. Texts longer than their byte limit are cut, not refused: the answer equals that of
the cut text. Control characters (NUL included) read as spaces: nothing after them is lost.
"""

import contextlib
import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from apps.captioner.serve import MAX_IMAGES
from apps.char_lm import serve as char_lm
from apps.imdb_sentiment import serve as imdb
from apps.translator import serve as translator_serve
from shared.runtime.serving import bare_tf_server
from shared.modeling.vision import MAX_PIXELS
from tests.serving.rest import Served
from tests.serving.strategies import b64


@pytest.fixture(scope="module")
def served(quick_runs):
    """app -> Served: each app's quick export behind its own TensorFlow-only REST server."""
    servers = {}
    with contextlib.ExitStack() as stack:
        def get(app):
            if app not in servers:
                url = stack.enter_context(bare_tf_server(quick_runs(app)[1]["export_path"], app))
                servers[app] = Served(url, app)
            return servers[app]
        yield get


# ------------------------------------------------------------------------------------------ text models
@pytest.mark.parametrize(("app", "limit", "signature"), [("imdb_sentiment", imdb.MAX_TEXTS, "serving_default"),
                                                         ("translator", translator_serve.MAX_TEXTS, "greedy")])
def test_texts_per_request(served, app, limit, signature):
    assert len(served(app).answer({"signature_name": signature, "instances": ["un gato."] * limit})) == limit
    message = served(app).error({"signature_name": signature, "instances": ["un gato."] * (limit + 1)})
    assert f"limit: at most {limit} texts per request" in message


def test_a_review_over_its_byte_limit_reads_as_its_two_halves(served):
    half = imdb.MAX_TEXT_BYTES // 2
    review = "a good film " * 2000 + "awful " * 5000 + "not great at all " * 1000
    cut = review[:half] + " " + review[-half:]
    at_limit = review[:imdb.MAX_TEXT_BYTES]
    rows = served("imdb_sentiment").answer({"instances": [review, cut, at_limit, at_limit[:half]]})
    assert rows[0] == rows[1]  # the middle (all "awful") was never read
    assert rows[2] != rows[3]  # a text at the limit is read whole


def test_a_sentence_over_its_byte_limit_reads_as_its_head(served):
    sentence = "tengo dos gatos " * 1000
    translations = served("translator").answer({"signature_name": "greedy", "instances": [
        sentence, sentence[:translator_serve.MAX_TEXT_BYTES]]})
    assert translations[0] == translations[1]


def test_nul_and_control_characters_are_spaces_and_nothing_after_them_is_lost(served):
    reviews = ["great film\x00 awful awful awful", "great film  awful awful awful", "great film",
               b64("great film\x1b awful awful awful".encode())]
    rows = served("imdb_sentiment").answer({"instances": reviews})
    assert rows[0] == rows[1] == rows[3] and rows[0] != rows[2]
    # The attention signature returns the source words the model read: all of them, after the NUL too.
    rows = served("translator").answer({"signature_name": "attention", "instances": [
        "\x00tengo dos gatos", b64(b"tengo\x00dos gatos"), "tengo dos gatos"]})
    assert [[word for word in row["source_tokens"] if word] for row in rows] == [["tengo", "dos", "gatos"]] * 3


# ------------------------------------------------------------------------------------------ char_lm
def _generate(prompts, num_chars, temperature=1.0):
    return {"inputs": {"prompt": prompts, "num_chars": num_chars, "temperature": temperature}}


def test_generated_characters_per_request(served):
    per_prompt = char_lm.MAX_NEW_CHARS
    rows = char_lm.MAX_GENERATED_CHARS // per_prompt
    texts = served("char_lm").answer(_generate(["ROMEO:"] * rows, per_prompt))
    assert [len(text) for text in texts] == [per_prompt] * rows
    message = served("char_lm").error(_generate(["ROMEO:"] * (rows + 1), per_prompt))
    assert f"limit: at most {char_lm.MAX_GENERATED_CHARS:,} generated characters" in message
    # num_chars beyond MAX_NEW_CHARS is clipped before it is counted.
    assert len(served("char_lm").answer(_generate(["x"], 10**9))[0]) == per_prompt


def test_prompts_per_request(served):
    assert len(served("char_lm").answer(_generate(["a"] * char_lm.MAX_ROWS, 1))) == char_lm.MAX_ROWS
    message = served("char_lm").error(_generate(["a"] * (char_lm.MAX_ROWS + 1), 0))
    assert f"limit: at most {char_lm.MAX_ROWS} prompts per request" in message


def test_a_huge_prompt_reads_as_its_last_characters(served):
    prompt = "é" * 400_000 + "漢" * char_lm.MAX_PROMPT_CHARS  # 2-byte then 3-byte characters
    # Greedy (temperature 0): sampled rows of one batch draw different random numbers.
    texts = served("char_lm").answer(_generate([prompt, prompt[-char_lm.MAX_PROMPT_CHARS:]], 20, 0.0))
    assert texts[0] == texts[1]


def test_scored_characters_per_request(served):
    rows = char_lm.MAX_SCORED_CHARS // char_lm.MAX_SCORE_CHARS
    text = "to be or not " * 3000  # 39,000 characters: each read up to MAX_SCORE_CHARS
    scores = served("char_lm").answer({"signature_name": "score", "inputs": {"text": [text] * rows}})
    assert scores["num_chars"] == [char_lm.MAX_SCORE_CHARS] * rows
    message = served("char_lm").error({"signature_name": "score", "inputs": {"text": [text] * (rows + 1)}})
    assert f"limit: at most {char_lm.MAX_SCORED_CHARS:,} scored characters" in message
    message = served("char_lm").error({"signature_name": "score", "inputs": {
        "text": ["ab"] * (char_lm.MAX_ROWS + 1)}})
    assert f"limit: at most {char_lm.MAX_ROWS} texts per request" in message


# ------------------------------------------------------------------------------------------ captioner
def _png(width, height, mode="L"):
    buffer = io.BytesIO()
    Image.new(mode, (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_images_per_request(served):
    small = b64(_png(8, 8))
    assert len(served("captioner").answer({"instances": [small] * MAX_IMAGES})) == MAX_IMAGES
    message = served("captioner").error({"instances": [small] * (MAX_IMAGES + 1)})
    assert f"limit: at most {MAX_IMAGES} images per request" in message


def test_declared_pixels_per_image(served):
    side = int(MAX_PIXELS ** 0.5)
    assert side * side == MAX_PIXELS
    assert len(served("captioner").answer({"signature_name": "greedy", "instances": [b64(_png(side, side))]})) == 1
    message = served("captioner").error({"signature_name": "greedy", "instances": [b64(_png(side + 1, side))]})
    assert f"limit: at most {MAX_PIXELS:,} pixels" in message and f"[{side + 1}] [x] [{side}]" in message


def test_a_gif_is_captioned_from_its_first_frame_only(served):
    frames = [Image.fromarray(np.random.default_rng(i).integers(0, 256, (60, 80, 3), dtype=np.uint8))
              for i in range(40)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    first = io.BytesIO()
    Image.fromarray(tf.io.decode_gif(buffer.getvalue())[0].numpy()).save(first, format="PNG")
    captions = served("captioner").answer({"instances": [b64(buffer.getvalue()), b64(first.getvalue())]})
    assert captions[0] == captions[1]

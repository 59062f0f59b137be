"""Fixtures for the serving tests: each app's quick export, served by a TensorFlow-only REST process.

A test module sets APP = "<app>" and asks for `served`: the session's quick export of that app
(tests/conftest.py quick_runs, shared with the app tests) behind shared/runtime/bare_tf.py's loopback server, a
separate process that can import only TensorFlow, as TF Serving would run it.
"""

import os

import pytest

from shared.runtime.serving import bare_tf_server
from tests.serving.rest import Served

# Hypothesis examples per property: a quick pass in the default suite, a thorough one under -m slow.
# The quick pass is derandomized so the default suite is repeatable; the thorough one explores.
QUICK_EXAMPLES = int(os.environ.get("SERVING_QUICK_EXAMPLES", "12"))
THOROUGH_EXAMPLES = int(os.environ.get("SERVING_THOROUGH_EXAMPLES", "300"))
BUDGETS = [pytest.param((QUICK_EXAMPLES, True), id="quick"),
           pytest.param((THOROUGH_EXAMPLES, False), id="thorough", marks=pytest.mark.slow)]


@pytest.fixture(scope="module")
def served(request, quick_runs):
    """The module's APP, quick-trained and served over REST for the whole module."""
    app = request.module.APP
    export = quick_runs(app)[1]["export_path"]
    with bare_tf_server(export, app) as url:
        yield Served(url, app)


@pytest.fixture(params=BUDGETS)
def budget(request):
    """(max_examples, derandomize) for one property test."""
    return request.param

"""moto's operation models under concurrent first use (drill/rehearsal/moto_server.serialise_operation_models).

moto 5.2.5 caches its model of an operation under the same key as the botocore model it wraps, stored first:
a thread asking in between got botocore's model, and its request failed ('OperationModel' object has no
attribute 'http_trait'; seen once when the recorded test stack was provisioned). The test holds the first
thread exactly in that window and asks from a second one.
"""

from __future__ import annotations

import threading

import moto.core.model as moto_model
from moto.core.utils import get_service_model

from drill.rehearsal.moto_server import serialise_operation_models


def test_a_second_thread_never_gets_botocores_model_while_the_first_builds_motos(monkeypatch):
    serialise_operation_models()
    service = moto_model.ServiceModel(get_service_model("sqs")._service_description, "sqs")  # a fresh cache
    in_window, leave = threading.Event(), threading.Event()
    built = moto_model.OperationModel

    class HeldOperationModel(built):  # botocore's model is cached by now; moto's is being built
        def __init__(self, *args, **kwargs):
            if threading.current_thread().name == "first":
                in_window.set()
                leave.wait()
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(moto_model, "OperationModel", HeldOperationModel)
    answers: dict[str, object] = {}

    def ask(name: str) -> None:
        answers[name] = service.operation_model("SendMessage")

    first = threading.Thread(target=ask, args=("first",), name="first")
    first.start()
    in_window.wait()
    second = threading.Thread(target=ask, args=("second",), name="second")
    second.start()
    second.join(0.2)  # unserialised, it answers at once from the cache; serialised, it waits for the first
    leave.set()
    first.join()
    second.join()
    assert all(hasattr(model, "http_trait") for model in answers.values()), answers

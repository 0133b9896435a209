import pytest

from tests.councilors.layer import LayerListener


@pytest.fixture
def listener():
    listening = LayerListener()
    yield listening
    listening.close()

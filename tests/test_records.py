"""Records: a judge request's images, read and renamed in the order its conversation shows them."""

from __future__ import annotations

import pytest

from editbench.records import JudgeRequest

SYSTEM = {"role": "system", "content": [{"type": "text", "text": "You rate edits."}]}


def two_image_request(source: str = "/data/a.png", edit: str = "/store/b.png") -> JudgeRequest:
    user = {
        "role": "user",
        "content": [
            {"type": "text", "text": "Source image:"},
            {"type": "image", "image": source},
            {"type": "text", "text": "Edited image:"},
            {"type": "image", "image": edit},
            {"type": "text", "text": "Rate it."},
        ],
    }
    return JudgeRequest([SYSTEM, user], score_prefix="Score:")


def test_images_are_listed_in_conversation_order_once_per_part() -> None:
    assert two_image_request().images() == ["/data/a.png", "/store/b.png"]
    assert two_image_request(edit="/data/a.png").images() == ["/data/a.png", "/data/a.png"]
    assert JudgeRequest([SYSTEM]).images() == []


def test_images_across_several_messages() -> None:
    first = {"role": "user", "content": [{"type": "image", "image": "/x.png"}]}
    second = {"role": "user", "content": [{"type": "image", "image": "/y.png"}]}
    assert JudgeRequest([first, SYSTEM, second]).images() == ["/x.png", "/y.png"]


def test_renaming_images_replaces_only_their_paths() -> None:
    request = two_image_request()
    renamed = request.messages_with_images({"/data/a.png": "source:1", "/store/b.png": "edit:2"})
    assert renamed == [
        SYSTEM,
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Source image:"},
                {"type": "image", "image": "source:1"},
                {"type": "text", "text": "Edited image:"},
                {"type": "image", "image": "edit:2"},
                {"type": "text", "text": "Rate it."},
            ],
        },
    ]
    assert request == two_image_request()  # the request itself is left as it was
    assert request.images() == ["/data/a.png", "/store/b.png"]


def test_renaming_an_image_the_mapping_lacks_is_an_error() -> None:
    with pytest.raises(KeyError, match=r"/store/b\.png"):
        two_image_request().messages_with_images({"/data/a.png": "source:1"})

"""Records: samples and their fields, edit requests, and a judge request's images, read and
renamed in the order its conversation shows them, and how its reply is read."""

from __future__ import annotations

import pytest

from editbench.records import EditRequest, JudgeRequest, Sample

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


def test_a_samples_first_image_is_its_source_and_its_fields_are_what_prompts_see() -> None:
    sample = Sample(
        "s1",
        "color",
        "Make it red.",
        ("/d/a.png", "/d/b.png"),
        reference_image="/d/ref.png",
        reference_text="A red cup.",
        extra={"language": "en", "id": "shadowed", "reference_image": "shadowed"},
    )
    assert sample.image == "/d/a.png"
    # The sample's own values win over an extra field of the same name; images are no field.
    assert sample.fields() == {
        "language": "en",
        "id": "s1",
        "category": "color",
        "instruction": "Make it red.",
        "reference_text": "A red cup.",
        "reference_image": "shadowed",
    }
    assert "reference_text" not in Sample("s2", "c", "i", ("/a.png",)).fields()
    assert sample.extra["id"] == "shadowed"  # fields() copies, never changes the sample


def test_an_edit_request_edits_its_first_image() -> None:
    request = EditRequest("s1", ("/d/a.png", "/d/b.png"), "Make it red.", 7, {"id": "s1"})
    assert (request.image, request.fields) == ("/d/a.png", {"id": "s1"})
    assert EditRequest("s1", ("/d/a.png",), "x", 0).fields == {}


def test_a_request_is_read_by_expectation_only_when_it_asks_for_one_score() -> None:
    plain = JudgeRequest([SYSTEM])
    assert (plain.reply, plain.scale) == ("score", (0.0, 10.0))
    assert (plain.mode("expected"), plain.mode("generate")) == ("expected", "generate")
    for reply in ("json_object", "score_list", "lines"):
        several = JudgeRequest([SYSTEM], criteria={"a": "SC"}, reply=reply)
        assert not several.expected_readable
        assert (several.mode("expected"), several.mode("generate")) == ("generate", "generate")

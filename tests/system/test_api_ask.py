"""The ask-the-picture tab as API users reach it: `python app.py --offline`, called through gradio_client."""

import pytest
from gradio_client import Client, handle_file

from demos.common import EXAMPLES_DIR

SCENE = EXAMPLES_DIR / "scenes" / "scene-1.png"   # an orange cross, a yellow star, a purple cross, ...


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_caption_with_only_the_image(client):
    caption, table, tiles, summary, notice = client.predict(handle_file(str(SCENE)), api_name="/caption")
    assert caption and all(c.isascii() for c in caption) and "star" in caption
    assert table["headers"][:3] == ["step", "greedy token", "p (greedy)"]
    assert len(table["data"]) >= 3 and table["data"][0][0] == 1
    assert len(tiles) == sum(1 for row in table["data"] if row[1])     # one attention picture per greedy token
    assert "Beam search" in summary and "Answered by" in notice and "Tiny BLIP captioner" in notice


def test_ask_with_the_image_and_a_question(client):
    answer, details, tiles, reads, notice = client.predict(handle_file(str(SCENE)), "how many shapes are there?",
                                                           api_name="/ask")
    assert answer == "5"
    assert "probability" in details and len(tiles) >= 1
    assert reads["headers"][0] == "question token" and reads["data"][0][0] == "[CLS]"
    assert "Tiny BLIP VQA" in notice


def test_a_question_about_something_absent_is_answered(client):
    answer, *_ = client.predict(handle_file(str(SCENE)), "is there a green circle?", api_name="/ask")
    assert answer == "no"


def test_hub_blip_offline_falls_back_with_a_notice(client):
    answer, _, _, _, notice = client.predict(handle_file(str(SCENE)), "how many shapes are there?", "blip-vqa-base",
                                             api_name="/ask")
    assert answer.isdigit() and "BLIP VQA base (Salesforce) is not available" in notice


def test_match_scores_each_sentence(client):
    table, text = client.predict(handle_file(str(SCENE)), "a yellow star\na green ring", api_name="/match")
    assert [row[0] for row in table["data"]] == ["a yellow star", "a green ring"]
    assert "ITM" in text and "ITC" in text


def test_bad_questions_get_a_sentence_and_the_server_keeps_serving(client, tmp_path):
    with pytest.raises(Exception, match="type a question"):
        client.predict(handle_file(str(SCENE)), "   ", api_name="/ask")
    junk = tmp_path / "homework.png"
    junk.write_bytes(b"this is not a picture")
    with pytest.raises(Exception, match="not a picture VisionLab can read"):
        client.predict(handle_file(str(junk)), "what is this?", api_name="/ask")
    answer, details, *_ = client.predict(handle_file(str(SCENE)), "is there a yellow star? " * 30, api_name="/ask")
    assert answer in ("yes", "no")
    assert "only the first 300" in details and "at most 40 tokens" in details


def test_only_registry_models_and_whole_settings_are_taken(client):
    with pytest.raises(Exception, match="not in the list of choices"):
        client.predict(handle_file(str(SCENE)), "what is this?", "../../secret", api_name="/ask")
    with pytest.raises(Exception, match="number of beams"):
        client.predict(handle_file(str(SCENE)), "shapes-blip-caption-tiny", 2.5, api_name="/caption")
    answer, *_ = client.predict(handle_file(str(SCENE)), "<img src=x onerror=alert(1)> how many shapes?",
                                api_name="/ask")
    assert "<img" not in answer

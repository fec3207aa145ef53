"""The app under the real ZeroGPU machinery (`spaces` 0.51.3 on the CPU; see
tests/system/zerogpu.py for what is real and what is stood in for), driven through
gradio_client by two visitors at once: A reads English in presenter mode, B reads Chinese.

Every picture sent is a copy of an example with the same pixels in a file of its own, so the
example cache never answers for the model: each call crosses the ZeroGPU boundary. Numbers
(timings, loads per model, worker starts) are printed and kept in test-output/zerogpu-report.json.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image, PngImagePlugin

from demos.common import EXAMPLES_DIR
from tests.system.zerogpu import serve_zerogpu_app

STAR = EXAMPLES_DIR / "shapes" / "yellow-star.png"
SCENE = EXAMPLES_DIR / "scenes" / "scene-1.png"
CALL_TIMEOUT = 60  # seconds for one call; a worker that hangs fails the test instead of blocking it
LOAD_LINE = re.compile(r"VisionLab loaded model (\S+) in ([\d.]+) s \(pid (\d+)\)")
CLASS_NAME = re.compile(r"\b[A-Z][a-z]+(?:[A-Z][a-z]+)*Error\b|ZeroGPU|worker error|Traceback")
CJK = re.compile(r"[\u4e00-\u9fff]")
REPORT: dict = {}
_copies = itertools.count()


# -- helpers ---------------------------------------------------------------------------------

def own_copy(src: Path, folder: Path) -> str:
    """`src`'s pixels in a new PNG file whose bytes differ (a text chunk): not an example."""
    n, info = next(_copies), PngImagePlugin.PngInfo()
    info.add_text("visionlab-test", str(n))
    out = folder / f"{src.stem}-{n}.png"
    Image.open(src).save(out, pnginfo=info)
    return str(out)


def call(client: Client, api_name: str, *args, timeout: float = CALL_TIMEOUT):
    """client.predict with a deadline (raises TimeoutError instead of waiting forever)."""
    return client.submit(*args, api_name=api_name).result(timeout=timeout)


def text_of(result) -> str:
    """Every text output of an answer (not the files it sent), joined."""
    outputs = result if isinstance(result, (tuple, list)) else [result]
    return "\n".join(r for r in outputs if isinstance(r, str) and not is_file(r))


def is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except OSError:  # a long sentence is no file name
        return False


def speaks(text: str, lang: str, names_the_model: bool = True) -> bool:
    """Whether an answer's text is all in `lang`: English has no Chinese character and says
    "Answered by"; Chinese has Chinese characters, says 回答 and never "Answered by".
    (`names_the_model=False` for answers that name no model, e.g. GrabCut's.)"""
    if lang == "en":
        return bool(text.strip()) and not CJK.search(text) and ("Answered by" in text or not names_the_model)
    return bool(CJK.search(text)) and "Answered by" not in text and ("回答" in text or not names_the_model)


def pixels(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def loads(log_path: Path) -> list[tuple[str, float, int]]:
    """(model key, seconds, pid) for each load line in the app's log (all its processes)."""
    return [(m[1], float(m[2]), int(m[3])) for m in LOAD_LINE.finditer(log_path.read_text(errors="replace"))]


def twice_loaded(log_path: Path) -> dict[str, list[int]]:
    """Models loaded more than once, with the pids that loaded them."""
    pids: dict[str, list[int]] = {}
    for key, _, pid in loads(log_path):
        pids.setdefault(key, []).append(pid)
    return {k: v for k, v in pids.items() if len(v) > 1}


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


def wait_until_settled(pid: int, timeout: float = 60) -> float:
    """Wait until the app has used under 0.1 s of CPU in the last 1.5 s (start-up work done);
    returns the seconds waited."""
    t0, history = time.monotonic(), []
    while time.monotonic() - t0 < timeout:
        history.append(cpu_seconds(pid))
        if len(history) > 3 and history[-1] - history[-4] < 0.1:
            break
        time.sleep(0.5)
    return time.monotonic() - t0


def log_tail(log_path: Path, lines: int = 25) -> str:
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])


def endpoints(client: Client) -> set[str]:
    return set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])


def save_report() -> None:
    out = Path(__file__).resolve().parents[2] / "test-output" / "zerogpu-report.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(REPORT, indent=2, ensure_ascii=False))


# -- a first call the moment the app answers (its own app) -----------------------------------

def test_a_call_sent_as_soon_as_the_app_answers_is_answered(output_dir, tmp_path):
    log_path = output_dir / "zerogpu-first-call.log"
    with serve_zerogpu_app(log_path) as app:
        t0 = time.monotonic()
        visitor = Client(app.url, verbose=False, headers={"Accept-Language": "en-US"})
        try:
            result = call(visitor, "/classify", handle_file(own_copy(STAR, tmp_path)))
        except TimeoutError:
            REPORT["first_call"] = {"answered": False, "timeout_s": CALL_TIMEOUT,
                                    "worker_starts": app.device_api.count("/allow"), "loads": loads(log_path)}
            save_report()
            pytest.fail(f"a /classify sent when the app first answered HTTP 200 got no answer in {CALL_TIMEOUT} s "
                        f"(workers started: {app.device_api.count('/allow')}, released: "
                        f"{app.device_api.count('/release')}); log {log_path}:\n{log_tail(log_path)}")
        seconds = time.monotonic() - t0
        REPORT["first_call"] = {"answered": True, "seconds": round(seconds, 2), "app_answered_http_after_s":
                                app.start_seconds, "loads": loads(log_path)}
        save_report()
        print(f"first call answered in {seconds:.1f} s")
        assert result[0]["label"] == "star" and speaks(text_of(result), "en")
        assert not twice_loaded(log_path), f"models loaded more than once: {twice_loaded(log_path)}"


# -- two visitors on one app -----------------------------------------------------------------

@pytest.fixture(scope="module")
def visitors(output_dir, tmp_path_factory):
    """One emulated app, settled after start-up; visitor A (English, presenter mode if the app
    lets a client set it) and visitor B (Chinese)."""
    log_path = output_dir / "zerogpu-app.log"
    with serve_zerogpu_app(log_path) as app:
        settled = wait_until_settled(app.process.pid)
        a = Client(app.url, verbose=False, headers={"Accept-Language": "en-US"})
        b = Client(app.url, verbose=False, headers={"Accept-Language": "zh-CN"})
        # the page's switches, as an API client sets them (undocumented endpoints, per session)
        call(a, "/set_language", "English")
        call(b, "/set_language", "中文")
        call(a, "/set_presenter", True)
        call(b, "/set_presenter", False)
        presenter = True
        REPORT["app"] = {"answered_http_after_s": app.start_seconds, "settled_after_s": round(settled, 1)}
        yield SimpleNamespace(a=a, b=b, app=app, log_path=log_path, presenter=presenter,
                              folder=tmp_path_factory.mktemp("pictures"))
        REPORT["app"]["worker_starts"] = app.device_api.count("/allow")
        REPORT["app"]["failed_releases"] = app.device_api.count("/release", fail="true")
        REPORT["app"]["loads"] = dict(Counter(key for key, _, _ in loads(log_path)))
        save_report()


def mixed_call(v, endpoint: str, client: Client):
    """One call of `endpoint` on a fresh copy of an example picture."""
    picture = handle_file(own_copy(SCENE if endpoint == "/detect" else STAR, v.folder))
    args = {"/zero_shot": (picture, "red star, yellow star, blue cross"),
            "/segment": (picture, "[[96, 96]]")}.get(endpoint, (picture,))
    return call(client, endpoint, *args)


def test_twenty_mixed_calls_are_each_in_the_asking_visitors_language(visitors):
    v = visitors
    before = len(loads(v.log_path))
    plan = ["/classify", "/detect", "/attention", "/zero_shot", "/segment"] * 2
    calls, wrong = [], []
    a, b = ("A", v.a, "en"), ("B", v.b, "zh")
    for i, endpoint in enumerate(plan):
        for who, client, lang in ((a, b) if i % 2 == 0 else (b, a)):  # each visitor forks some workers
            t0 = time.monotonic()
            try:
                text, error = text_of(mixed_call(v, endpoint, client)), None
            except Exception as e:  # noqa: BLE001 - recorded, asserted below
                text, error = "", f"{type(e).__name__}: {e}"
            seconds = round(time.monotonic() - t0, 2)
            calls.append({"visitor": who, "endpoint": endpoint, "seconds": seconds, "error": error,
                          "in_language": speaks(text, lang, endpoint != "/segment")})
            if error or not calls[-1]["in_language"]:
                wrong.append(f"{who} {endpoint} ({seconds} s): {error or text[:160]!r}")
    new_loads = loads(v.log_path)[before:]
    REPORT["mixed"] = {"calls": calls, "wrong_language_or_failed": len(wrong),
                       "loads": dict(Counter(key for key, _, _ in new_loads)),
                       "load_lines": [f"{k} {s} s pid {p}" for k, s, p in new_loads],
                       "worker_starts_so_far": v.app.device_api.count("/allow")}
    save_report()
    print(json.dumps(REPORT["mixed"], indent=1, ensure_ascii=False))
    assert len(calls) == 20
    assert not wrong, f"{len(wrong)} of 20 answers failed or came in the other visitor's language:\n" + "\n".join(wrong)


@pytest.mark.parametrize("endpoint", ["/detect", "/attention"])
def test_presenter_pictures_are_bold_and_the_other_visitor_keeps_hers(visitors, endpoint):
    v = visitors
    picture = own_copy(SCENE if endpoint == "/detect" else STAR, v.folder)

    def drawn(client):
        return pixels(call(client, endpoint, handle_file(picture))[0])

    b_before, a_sees, b_after = drawn(v.b), drawn(v.a), drawn(v.b)
    assert np.array_equal(b_before, b_after), f"{endpoint}: B's picture changed after A (presenter) asked"
    if not v.presenter:
        pytest.fail("the app has no /set_presenter endpoint: visitor A could not switch presenter mode on")
    assert not np.array_equal(a_sees, b_before), f"{endpoint}: the presenter's picture is drawn like B's"


def not_a_picture(folder: Path) -> str:
    junk = folder / "homework.png"
    junk.write_bytes(b"this is not a picture")
    return str(junk)


USER_ERRORS = {  # a mistake a student makes -> the call that makes it
    "empty labels": lambda v: ("/zero_shot", handle_file(own_copy(STAR, v.folder)), ""),
    "not a picture": lambda v: ("/classify", handle_file(not_a_picture(v.folder))),
}


@pytest.mark.parametrize("mistake", USER_ERRORS)
@pytest.mark.parametrize("who", ["A", "B"])
def test_a_user_error_is_a_sentence_in_the_visitors_language_and_the_next_call_works(visitors, who, mistake):
    v = visitors
    client, lang = (v.a, "en") if who == "A" else (v.b, "zh")
    with pytest.raises(Exception) as caught:
        call(client, *USER_ERRORS[mistake](v))
    assert not isinstance(caught.value, TimeoutError), f"no answer in {CALL_TIMEOUT} s"
    message = str(caught.value)
    REPORT.setdefault("user_errors", {})[f"{who} {mistake}"] = message
    save_report()
    assert not CLASS_NAME.search(message), f"a class name, not a sentence: {message!r}"
    assert len(message.split()) >= 4 or len(CJK.findall(message)) >= 8, f"not a sentence: {message!r}"
    assert bool(CJK.search(message)) == (lang == "zh"), f"not in {lang}: {message!r}"
    result = mixed_call(v, "/classify", client)  # the next call succeeds, in the visitor's language
    assert result[0]["label"] == "star" and speaks(text_of(result), lang)


def test_spaces_is_imported_in_the_main_thread(visitors):
    """torch's ZeroGPU patching (`.to("cuda")` recorded, not done) holds only in the thread that
    imported `spaces`: the one that loads the models before launch."""
    log = visitors.log_path.read_text(errors="replace")
    imported = re.findall(r"spaces imported in thread (.+?) \(", log)
    assert imported == ["MainThread"], f"spaces imported in {imported or 'no thread'}; see {visitors.log_path}"
    assert log.index("spaces imported") < log.index("Running on local URL"), "spaces imported after launch"


def workers_of(pid: int) -> set[int]:
    """Processes forked by the app (ZeroGPU workers), from every thread of it."""
    found = set()
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        found |= {int(c) for c in children.read_text().split()}
    return found


def test_a_worker_that_dies_is_replaced_and_the_next_call_works(visitors):
    """A GPU worker killed between calls (out of memory, the platform reclaiming it): the next
    call forks a fresh one from the main process, with the models already there, and answers."""
    import os
    import signal

    v = visitors
    call(v.b, "/classify", handle_file(own_copy(STAR, v.folder)))
    workers = workers_of(v.app.process.pid)
    assert workers, "no ZeroGPU worker to kill"
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    time.sleep(1)
    result = call(v.b, "/classify", handle_file(own_copy(STAR, v.folder)))
    assert result[0]["label"] == "star" and speaks(text_of(result), "zh")
    assert not twice_loaded(v.log_path)


def test_each_model_loads_at_most_once_across_all_processes(visitors):
    v = visitors
    REPORT["app"]["load_lines"] = [f"{k} {s} s pid {p}" for k, s, p in loads(v.log_path)]
    save_report()
    assert loads(v.log_path), f"no load line in {v.log_path}: the loader prints one per load"
    assert not twice_loaded(v.log_path), (f"models loaded more than once (pids): {twice_loaded(v.log_path)}; "
                                          f"main process pid {v.app.process.pid}")

"""What a careless or hostile visitor might try: files outside the allowed folders, oversized
uploads, names outside the registry, decompression bombs. The server must refuse and keep serving."""

import struct
import urllib.error
import urllib.request
import zlib

import pytest
from gradio_client import Client, handle_file

from demos.common import EXAMPLES_DIR
from tests.conftest import ROOT, rss_mb


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def status_of(url: str, data: bytes | None = None, headers: dict | None = None) -> int:
    try:
        return urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers or {}), timeout=30).status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.mark.parametrize("path", ["/etc/passwd", str(ROOT / "app.py"), str(ROOT / "weights" / "README.md"),
                                  str(EXAMPLES_DIR / ".." / "app.py")])
def test_files_outside_the_cache_and_examples_are_forbidden(app_url, path):
    assert status_of(f"{app_url}gradio_api/file={path}") == 403


def test_example_files_are_served(app_url):
    assert status_of(f"{app_url}gradio_api/file={EXAMPLES_DIR / 'scenes' / 'scene-1.png'}") == 200


def test_an_upload_over_the_cap_gets_413(app_url):
    boundary = "visionlab"
    big = b"\0" * (11 * 1024 * 1024)                       # the cap is 10 MB
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + big + f"\r\n--{boundary}--\r\n".encode()
    assert status_of(f"{app_url}gradio_api/upload", body,
                     {"Content-Type": f"multipart/form-data; boundary={boundary}"}) == 413


@pytest.mark.parametrize("api_name,args", [
    ("/classify", ("timm/../../etc/passwd",)),
    ("/detect", ("facebook/some-remote-code-model",)),
    ("/attention", ("resnet50; rm -rf /",)),
])
def test_model_names_outside_the_registry_are_refused(client, api_name, args):
    with pytest.raises(Exception, match="not in the list of choices|not one of VisionLab's models"):
        client.predict(handle_file(str(EXAMPLES_DIR / "scenes" / "scene-1.png")), *args, api_name=api_name)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height RGB pixels but carries almost no data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_a_decompression_bomb_is_refused_without_eating_memory(client, app_server, tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header_only(20000, 20000))        # 1.2 GB of pixels if decoded
    before = rss_mb(app_server[1].pid)
    for api_name in ("/classify", "/detect"):
        with pytest.raises(Exception, match="far too large|too large to open safely"):
            client.predict(handle_file(str(bomb)), api_name=api_name)
    assert rss_mb(app_server[1].pid) - before < 300, "decoding started: memory grew"
    label = client.predict(handle_file(str(EXAMPLES_DIR / "shapes" / "red-circle.png")), api_name="/classify")[0]
    assert label["label"] == "circle"                     # and the server keeps serving

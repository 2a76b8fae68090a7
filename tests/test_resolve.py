"""Unit tests for `mediaprep.resolve`: turning what a user passed into a `Source`, or into the
`source.*` / `image.unreadable` violation that says why it cannot be read.

Covers `resolve` for every input form (path str, `pathlib.Path`, `file://` URLs, raw bytes, `data:`
URLs, http(s) URLs, a `Source`, an unsupported type), the filesystem cases (missing, through a
file, a folder, a named pipe, unreadable, broken or looping symlinks, over-long names), `label_for`
and `expand_inputs` (the command line's folder walk). Files live under `tmp_path` only; nothing
touches the network.
"""

from __future__ import annotations

import base64
import os
import socket
from pathlib import Path
from urllib.parse import quote

import pytest

from mediaprep.errors import UsageError
from mediaprep.models import Source, Violation
from mediaprep.resolve import expand_inputs, label_for, resolve

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PAYLOAD = PNG_SIGNATURE + bytes(range(256)) * 4


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    path = tmp_path / "picture.png"
    path.write_bytes(PAYLOAD)
    return path


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("resolve must not touch the network")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _source(result) -> Source:
    assert isinstance(result, Source), result
    return result


def _violation(result, code: str) -> Violation:
    assert isinstance(result, Violation), result
    assert result.code == code, result
    assert result.severity == "error"
    return result


# --- paths and file:// URLs ------------------------------------------------------------------


def test_resolve_path_string(image_file):
    src = _source(resolve(str(image_file)))

    assert src.kind == "path"
    assert src.path == image_file
    assert src.label == str(image_file)
    assert src.data is None and src.url is None


def test_resolve_pathlib_path(image_file):
    src = _source(resolve(image_file))

    assert src.kind == "path"
    assert src.path == image_file
    assert src.label == str(image_file)


def test_resolve_uses_the_label_given(image_file):
    assert _source(resolve(str(image_file), label="holiday photo")).label == "holiday photo"


def test_resolve_file_url_decodes_percent_encoded_spaces(tmp_path):
    path = tmp_path / "my holiday photo.png"
    path.write_bytes(PAYLOAD)
    url = path.as_uri()
    assert url.startswith("file:///") and "%20" in url

    src = _source(resolve(url))

    assert src.kind == "path"
    assert src.path == path
    assert src.label == url


def test_resolve_file_url_with_localhost(tmp_path):
    path = tmp_path / "a b.png"
    path.write_bytes(PAYLOAD)

    src = _source(resolve("file://localhost" + quote(str(path))))

    assert src.kind == "path"
    assert src.path == path


def test_resolve_file_url_naming_another_host_is_a_violation_for_that_input():
    # one input's bad file:// URL costs that input, never the run (issue 12, item 20: `probe
    # file://host/…` stopped the whole run with a traceback)
    v = _violation(resolve("file://otherhost/x"), "source.not_found")
    assert "otherhost" in v.message


def test_resolve_file_url_to_a_missing_file_is_not_found(tmp_path):
    path = tmp_path / "gone.png"

    v = _violation(resolve(path.as_uri()), "source.not_found")

    assert v.observed == str(path)


# --- raw bytes -------------------------------------------------------------------------------


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview], ids=["bytes", "bytearray", "memoryview"])
def test_resolve_raw_bytes(wrap):
    src = _source(resolve(wrap(PAYLOAD)))

    assert src.kind == "bytes"
    assert type(src.data) is bytes
    assert src.data == PAYLOAD
    assert src.path is None and src.url is None


# --- data: URLs ------------------------------------------------------------------------------


def test_resolve_base64_data_url():
    url = "data:image/png;base64," + base64.b64encode(PAYLOAD).decode("ascii")

    src = _source(resolve(url))

    assert src.kind == "data_url"
    assert src.declared_mime == "image/png"
    assert src.data == PAYLOAD


def test_resolve_data_url_base64_marker_is_case_insensitive():
    url = "data:image/png;BASE64," + base64.b64encode(PNG_SIGNATURE).decode("ascii")

    assert _source(resolve(url)).data == PNG_SIGNATURE


def test_resolve_data_url_without_a_comma_is_unreadable():
    v = _violation(resolve("data:image/png;base64"), "image.unreadable")

    assert "comma" in v.observed


def test_resolve_data_url_with_malformed_base64_is_unreadable():
    v = _violation(resolve("data:image/png;base64,@@not base64@@"), "image.unreadable")

    assert "base64" in v.observed


def test_resolve_percent_encoded_data_url():
    src = _source(resolve("data:text/plain,hello%20world%21"))

    assert src.kind == "data_url"
    assert src.declared_mime == "text/plain"
    assert src.data == b"hello world!"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("%89PNG%0D%0A%1A%0A", PNG_SIGNATURE),  # not UTF-8
        ("caf%C3%A9", "café".encode("utf-8")),  # UTF-8 escapes are two octets, not one character
    ],
    ids=["binary", "utf8"],
)
def test_resolve_percent_encoded_data_url_escapes_are_octets(payload, expected):
    src = _source(resolve("data:application/octet-stream," + payload))

    assert src.data == expected


# --- http(s) URLs ----------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://example.com/a.png", "HTTPS://Example.com/b.JPG?x=1"])
def test_resolve_http_url_is_kept_without_fetching(no_network, url):
    src = _source(resolve(url))

    assert src.kind == "url"
    assert src.url == url
    assert src.data is None and src.path is None
    assert src.remote is None


# --- other objects ---------------------------------------------------------------------------


def test_resolve_passes_a_source_through_unchanged():
    src = Source(label="already", kind="bytes", data=b"abc")

    assert resolve(src) is src


@pytest.mark.parametrize("obj", [123, 1.5, None, ["a.png"]])
def test_resolve_unsupported_type_is_a_usage_error_naming_what_is_allowed(obj):
    with pytest.raises(UsageError) as info:
        resolve(obj)

    message = str(info.value)
    for allowed in ("path", "file://", "data:", "http(s)", "bytes"):
        assert allowed in message, message
    assert type(obj).__name__ in message


# --- filesystem cases ------------------------------------------------------------------------


def test_resolve_missing_file_is_not_found_with_the_path_observed(tmp_path):
    path = tmp_path / "missing.png"

    v = _violation(resolve(str(path)), "source.not_found")

    assert v.observed == str(path)
    assert v.message.startswith(str(path))


def test_resolve_path_through_a_file_is_not_found(image_file):
    path = image_file / "x"

    v = _violation(resolve(str(path)), "source.not_found")

    assert v.observed == str(path)


def test_resolve_dangling_symlink_is_not_found(tmp_path):
    link = tmp_path / "link.png"
    link.symlink_to(tmp_path / "nowhere.png")

    _violation(resolve(str(link)), "source.not_found")


def test_resolve_folder_is_not_a_file(tmp_path):
    v = _violation(resolve(str(tmp_path)), "source.not_a_file")

    assert v.observed == "a folder"


def test_resolve_named_pipe_is_not_a_file(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    v = _violation(resolve(str(fifo)), "source.not_a_file")

    assert v.observed == "a named pipe"


def test_resolve_file_in_an_unsearchable_folder_is_permission_denied(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("running as root: root may stat and read any file, so permission cannot be denied")
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "a.png").write_bytes(PAYLOAD)
    locked.chmod(0)
    try:
        _violation(resolve(str(locked / "a.png")), "source.permission_denied")
    finally:
        locked.chmod(0o755)


def test_resolve_symlink_loop_is_a_violation_not_an_exception(tmp_path):
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop)

    result = resolve(str(loop))

    assert isinstance(result, Violation)
    assert result.code.startswith("source.")


def test_resolve_overlong_name_is_a_violation_not_an_exception(tmp_path):
    path = tmp_path / ("a" * 5000 + ".png")

    result = resolve(str(path))

    assert isinstance(result, Violation)
    assert result.code.startswith("source.")


# --- label_for -------------------------------------------------------------------------------


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_label_for_bytes_shows_the_length(wrap):
    label = label_for(wrap(PAYLOAD))

    assert f"{len(PAYLOAD)} bytes" in label
    assert "\\x" not in label


def test_label_for_data_url_is_short_and_shows_the_length():
    payload = base64.b64encode(PAYLOAD).decode("ascii")
    url = "data:image/png;base64," + payload

    label = label_for(url)

    assert len(label) < 80
    assert payload[:16] not in label
    assert str(len(url)) in label
    assert "image/png" in label


def test_label_for_data_url_with_uppercase_scheme_is_short():
    payload = base64.b64encode(PAYLOAD).decode("ascii")
    url = "DATA:image/png;base64," + payload
    assert isinstance(resolve(url), Source)  # resolve accepts the scheme in any case

    label = label_for(url)

    assert len(label) < 80
    assert payload[:16] not in label


def test_label_for_path_is_the_text_given(tmp_path):
    assert label_for("some/dir/x.png") == "some/dir/x.png"
    assert label_for(tmp_path / "y.png") == str(tmp_path / "y.png")
    assert label_for("https://example.com/z.png") == "https://example.com/z.png"


def test_label_for_source_is_its_label():
    assert label_for(Source(label="mine", kind="bytes", data=b"x")) == "mine"


# --- expand_inputs ---------------------------------------------------------------------------


def _touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def test_expand_inputs_walks_a_folder_recursively_sorted_skipping_dot_entries(tmp_path):
    root = tmp_path / "media"
    # created out of order, so the order seen is the walk's, not the filesystem's
    _touch(root, "n/zdeep/f.png", "n/e.png", "n/.cache/z.png", "m/d.png", "m/c.png", "m/.DS_Store", ".git/config.png", ".hidden.png", "b2.png", "a1.png")

    got = list(expand_inputs([str(root)]))

    expected = ["a1.png", "b2.png", "m/c.png", "m/d.png", "n/e.png", "n/zdeep/f.png"]
    assert got == [os.path.join(str(root), *name.split("/")) for name in expected]


def test_expand_inputs_walks_the_current_folder_given_as_dot(tmp_path, monkeypatch):
    _touch(tmp_path, "b.png", "a.png", ".hidden.png")
    monkeypatch.chdir(tmp_path)

    assert list(expand_inputs(["."])) == [os.path.join(".", "a.png"), os.path.join(".", "b.png")]


def test_expand_inputs_passes_urls_and_missing_paths_through_untouched(tmp_path):
    folder = tmp_path / "folder"
    _touch(folder, "inside.png")
    items = [
        "http://example.com/a.png",
        "HTTPS://example.com/b.png",
        "data:image/png;base64," + base64.b64encode(PNG_SIGNATURE).decode("ascii"),
        folder.as_uri(),  # a file:// URL is resolve's business, even when it names a folder
        str(tmp_path / "missing.png"),
        "relative/missing.png",
    ]

    assert list(expand_inputs(items)) == items


def test_expand_inputs_passes_an_overlong_name_through(tmp_path):
    name = str(tmp_path / ("a" * 5000 + ".png"))

    assert list(expand_inputs([name])) == [name]


def test_expand_inputs_keeps_the_order_of_its_arguments(tmp_path):
    _touch(tmp_path, "z.png", "a.png", "folder/y.png", "folder/b.png")
    z, a, folder = str(tmp_path / "z.png"), str(tmp_path / "a.png"), str(tmp_path / "folder")

    got = list(expand_inputs([z, folder, "http://example.com/m.png", a]))

    assert got == [z, os.path.join(folder, "b.png"), os.path.join(folder, "y.png"), "http://example.com/m.png", a]

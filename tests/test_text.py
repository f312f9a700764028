"""Real-file tests of plain text, Markdown and HTML labelling: the notice, the implicit record, encodings,
line endings, re-marking, the explicit check, the string API, and hostile input.

Files are written here in each supported encoding (UTF-8 with and without BOM, UTF-16 LE/BE with BOM,
GB18030) and line ending (LF, CRLF, CR), marked through the library, and read back independently:
Python's codecs for the bytes, PyYAML for the front matter, ``html.parser`` for the HTML.  Nothing is
mocked and nothing is patched: the explicit marker registry, the rule registry, ``marking._write`` and
``implicit.record-present`` (carrier-less plain text) carry the behaviour these tests check.
"""

from __future__ import annotations

import codecs
import io
import json
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aigclabel
from aigclabel._io import CountingReader
from aigclabel.errors import CorruptFile, LabelError, OutputError, UnsupportedFormat, UnsupportedOperation
from aigclabel.explicit import ExplicitOptions
from aigclabel.explicit import text as notice_mod
from aigclabel.formats import detect, handler_for
from aigclabel.formats.text import HtmlHandler, MarkdownHandler, TextHandler, decode_bytes, sniff
from aigclabel.label import AigcRecord
from aigclabel.report import Finding, Level, Verdict
from aigclabel.textlabel import mark_text, sidecar_path, verify_text, write_sidecar

from conftest import PRODUCER

NOTICE = "本内容由人工智能生成"
CLAUSE = ("Measures Art. 4; GB 45438-2025 explicit labelling (text: prompt at the start, end or a suitable "
          "middle position)")
ELEMENT = f'<p class="aigc-notice" data-aigc-notice>{NOTICE}</p>'
ENCODINGS = {  # name -> (BOM, codec)
    "utf-8": (b"", "utf-8"),
    "utf-8-bom": (codecs.BOM_UTF8, "utf-8"),
    "utf-16-le": (codecs.BOM_UTF16_LE, "utf-16-le"),
    "utf-16-be": (codecs.BOM_UTF16_BE, "utf-16-be"),
    "gb18030": (b"", "gb18030"),
}
NEWLINES = {"LF": "\n", "CRLF": "\r\n", "CR": "\r"}


@pytest.fixture()
def profile(tmp_path: Path) -> str:
    """The default profile plus the explicit.text rule (until the shipped profile has it)."""
    path = tmp_path / "text-profile.toml"
    path.write_text(f'id = "test-text"\nextends = "cn-gb45438-2025"\n\n[rules."explicit.text"]\nclause = "{CLAUSE}"\n'
                    'level = "error"\n', encoding="utf-8")
    return str(path)


def _record(produce_id: str = "text-0001") -> AigcRecord:
    return AigcRecord(label="1", content_producer=PRODUCER, produce_id=produce_id)


# ============================================================================= helpers


def encode(text: str, enc: str) -> bytes:
    bom, codec = ENCODINGS[enc]
    return bom + text.encode(codec)


def decode(data: bytes, enc: str) -> str:
    """Independent decoding: check the BOM, then Python's codec, strictly."""
    bom, codec = ENCODINGS[enc]
    assert data.startswith(bom), f"BOM {bom!r} lost"
    if not bom:
        assert not data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)), "BOM added"
    return codecs.decode(data[len(bom):], codec, "strict")


def mark_path(path: Path, profile: str, *, position: str | None = None, produce_id: str = "text-0001",
              text: str | None = None, out: Path | None = None) -> Path:
    dest = out or path.with_name("out-" + path.name)
    aigclabel.mark_file(path, dest, producer=PRODUCER, produce_id=produce_id, profile=profile, text=text,
                        position=position, overwrite=True)
    return dest


def newline_kinds(text: str) -> set[str]:
    kinds = set()
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\r":
            if text.startswith("\r\n", i):
                kinds.add("CRLF")
                i += 2
                continue
            kinds.add("CR")
        elif c == "\n":
            kinds.add("LF")
        i += 1
    return kinds


class HtmlReader(HTMLParser):
    """Independent HTML check with the standard library parser: metas (and whether in <head>), notice texts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.metas: list[tuple[str, str, bool]] = []
        self.notices: list[str] = []
        self.in_head = False
        self.seen_body = False
        self._notice: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "head":
            self.in_head = True
        elif tag == "body":
            self.in_head, self.seen_body = False, True
        elif tag == "meta" and "name" in a:
            self.metas.append((a["name"] or "", a.get("content") or "", self.in_head and not self.seen_body))
        elif tag == "p" and "data-aigc-notice" in a:
            self._notice = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self.in_head = False
        elif tag == "p" and self._notice is not None:
            self.notices.append("".join(self._notice))
            self._notice = None

    def handle_data(self, data: str) -> None:
        if self._notice is not None:
            self._notice.append(data)


def read_html(text: str) -> HtmlReader:
    reader = HtmlReader()
    reader.feed(text)
    reader.close()
    return reader


def front_matter(text: str) -> dict:
    yaml = pytest.importorskip("yaml", reason="PyYAML reads the front matter independently (pip install pyyaml)")
    body = text.lstrip("\ufeff")
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    assert lines[0] == "---"
    end = lines.index("---", 1)
    return yaml.safe_load("\n".join(lines[1:end])) or {}


def findings(report: Any, rule: str) -> list[Finding]:
    return [f for f in report.findings if f.rule == rule]


# ============================================================================= detection


@pytest.mark.parametrize("head, name, expected", [
    (b"Hello world\n", "<bytes>", "txt"),
    (b"Hello world\n", "notes.txt", "txt"),
    (b"Hello world\n", "notes.md", "markdown"),
    (b"Hello world\n", "NOTES.MARKDOWN", "markdown"),
    (b"<div>fragment</div>\n", "page.htm", "html"),
    (b"---\ntitle: x\n---\n", "notes.txt", "markdown"),  # content outweighs the name
    (b"  <!DOCTYPE html>\n<html>", "page.md", "html"),
    (b"\xef\xbb\xbf<html lang=zh>", "<bytes>", "html"),
    ("中文文本，没有换行".encode("gb18030"), "<bytes>", "txt"),
    (codecs.BOM_UTF16_LE + "# 标题\n".encode("utf-16-le"), "a.md", "markdown"),
    (codecs.BOM_UTF16_BE + "plain".encode("utf-16-be"), "<bytes>", "txt"),
])
def test_detection_by_content_name_breaks_text_ties(head: bytes, name: str, expected: str) -> None:
    assert detect(head, name).name == expected


@pytest.mark.parametrize("head", [
    b"\x00\x01\x02binary", b"text with a NUL\x00 inside", b"\x89PNG\r", b"\xff\xd8\xff", b"RIFF", b"fLaC",
    b"ID3\x04", b"%PDF-1.7\n", b"<?xml version='1.0'?><svg/>", b'{"json": true}', b"#!/bin/sh\necho",
    b"\x80\x81\x82\x83 not gb18030", b"text\x07bell", codecs.BOM_UTF16_LE + b"\x00\xd8\x00\xd8",
])
def test_binary_and_non_documents_are_not_claimed(head: bytes) -> None:
    for handler in (TextHandler, MarkdownHandler, HtmlHandler):
        assert handler.score(head) == 0
    try:
        chosen = detect(head, "x.txt").name  # a binary handler may claim it (a truncated file)
    except UnsupportedFormat:
        return
    assert chosen not in ("txt", "markdown", "html")


def test_other_formats_ignore_the_name() -> None:
    from conftest import make_png

    png = make_png()
    assert detect(png[:64], "picture.md").name == "png"
    assert detect(png[:64]).name == "png"


def test_sniff_accepts_a_character_cut_by_the_head() -> None:
    head = ("a" * 62 + "中").encode("utf-8")[:64]  # the last character is cut after one of its three bytes
    assert sniff(head) is not None and len(head) == 64


# ============================================================================= encodings, line endings, final newline


BODY = "第一段：人工智能的发展。\nSecond line, ASCII.\n\n最后一行"


@pytest.mark.parametrize("enc", list(ENCODINGS))
@pytest.mark.parametrize("nl", list(NEWLINES))
@pytest.mark.parametrize("final", [True, False], ids=["final-newline", "no-final-newline"])
def test_txt_keeps_encoding_newlines_and_final_newline(tmp_path: Path, profile: str, enc: str, nl: str,
                                                       final: bool) -> None:
    text = BODY.replace("\n", NEWLINES[nl]) + (NEWLINES[nl] if final else "")
    src = tmp_path / "story.txt"
    src.write_bytes(encode(text, enc))
    out = decode(mark_path(src, profile).read_bytes(), enc)
    sep = NEWLINES[nl]
    expected = text + ("" if final else sep) + sep + NOTICE + (sep if final else "")
    assert out == expected
    assert newline_kinds(out) == {nl}
    assert out.endswith((sep,)) == final
    # byte for byte: the original bytes are the output's prefix (after the BOM)
    bom = ENCODINGS[enc][0]
    assert mark_path(src, profile).read_bytes()[len(bom):].startswith(encode(text, enc)[len(bom):])


@pytest.mark.parametrize("enc", list(ENCODINGS))
@pytest.mark.parametrize("nl", list(NEWLINES))
def test_txt_start_position(tmp_path: Path, profile: str, enc: str, nl: str) -> None:
    text = BODY.replace("\n", NEWLINES[nl]) + NEWLINES[nl]
    src = tmp_path / "story.txt"
    src.write_bytes(encode(text, enc))
    data = mark_path(src, profile, position="start").read_bytes()
    out = decode(data, enc)
    assert out == NOTICE + NEWLINES[nl] * 2 + text
    assert data.endswith(encode(text, enc)[len(ENCODINGS[enc][0]):])
    both = decode(mark_path(src, profile, position="both").read_bytes(), enc)
    assert both == NOTICE + NEWLINES[nl] * 2 + text + NEWLINES[nl] + NOTICE + NEWLINES[nl]


@pytest.mark.parametrize("enc", list(ENCODINGS))
@pytest.mark.parametrize("nl", ["LF", "CRLF"])
def test_markdown_front_matter_and_notice(tmp_path: Path, profile: str, enc: str, nl: str) -> None:
    sep = NEWLINES[nl]
    fm = ["---", "title: \"测试\"", "tags:", "  - a", "  - b", "# a comment", "---"]
    text = sep.join(fm) + sep + sep + "# 标题" + sep + sep + "正文。" + sep
    src = tmp_path / "post.md"
    src.write_bytes(encode(text, enc))
    out = decode(mark_path(src, profile, produce_id="md-1").read_bytes(), enc)
    meta = front_matter(out)
    assert meta["title"] == "测试" and meta["tags"] == ["a", "b"]
    assert meta["AIGC"] == _record("md-1").to_dict()
    # the user's front matter lines are kept verbatim and in order, the AIGC block added before the close
    lines = out.split(sep)
    assert lines[:6] == fm[:6] and lines[6] == "AIGC:" and lines[14] == "---"
    assert out.endswith(sep + sep + NOTICE + sep)
    assert newline_kinds(out) == {nl}
    report = aigclabel.verify(tmp_path / "out-post.md", profile=profile)
    assert report.verdict is Verdict.COMPLIANT, [f.to_dict() for f in report.findings]
    (label,) = report.labels
    assert label.normative and label.carrier == "front-matter:AIGC"


def test_markdown_without_front_matter_gets_one(tmp_path: Path, profile: str) -> None:
    src = tmp_path / "a.md"
    src.write_text("# Title\n\nBody\n", encoding="utf-8")
    out = mark_path(src, profile, produce_id="md-2").read_text(encoding="utf-8")
    assert out.startswith("---\nAIGC:\n  Label: \"1\"\n")
    assert front_matter(out) == {"AIGC": _record("md-2").to_dict()}
    assert out.endswith("# Title\n\nBody\n\n" + NOTICE + "\n")


def test_markdown_start_notice_goes_after_the_front_matter(tmp_path: Path, profile: str) -> None:
    src = tmp_path / "a.md"
    src.write_text("---\ntitle: x\n---\n# Title\n", encoding="utf-8")
    out = mark_path(src, profile, position="start").read_text(encoding="utf-8")
    assert out.split("---\n")[2] == f"{NOTICE}\n\n# Title\n"


@pytest.mark.parametrize("enc", list(ENCODINGS))
@pytest.mark.parametrize("nl", ["LF", "CRLF"])
def test_html_meta_and_notice_rest_byte_identical(tmp_path: Path, profile: str, enc: str, nl: str) -> None:
    sep = NEWLINES[nl]
    charset = {"gb18030": "gb18030", "utf-16-le": "utf-16", "utf-16-be": "utf-16"}.get(enc, "utf-8")
    lines = ["<!DOCTYPE html>", "<html lang=\"zh\">", "<head>", f"  <meta charset=\"{charset}\">",
             "  <title>标题</title>", "  <script>var s = '</head><body>';</script>", "</head>",
             "<!-- <body> in a comment -->", "<body class=\"x\">", "  <h1>你好</h1>", "  <p>正文 &amp; more</p>",
             "</body>", "</html>", ""]
    text = sep.join(lines)
    src = tmp_path / "page.html"
    src.write_bytes(encode(text, enc))
    out = decode(mark_path(src, profile, produce_id="html-1", position="both").read_bytes(), enc)
    reader = read_html(out)
    assert reader.metas == [("AIGC", _record("html-1").to_json(), True)]
    assert reader.notices == [NOTICE, NOTICE]
    meta = f"<meta name=\"AIGC\" content='{_record('html-1').to_json()}'>"
    # remove exactly what was inserted: the original comes back, byte for byte
    restored = out.replace(sep + meta, "", 1).replace(ELEMENT + sep, "", 2)
    assert restored == text
    assert out.index(meta) > out.index("<meta charset")  # the charset declaration stays first
    assert out.index(ELEMENT) > out.index("<body class")  # not inside the script or the comment
    report = aigclabel.verify(tmp_path / "out-page.html", profile=profile)
    assert report.verdict is Verdict.COMPLIANT, [f.to_dict() for f in report.findings]


def test_html_without_head_or_body(tmp_path: Path, profile: str) -> None:
    src = tmp_path / "frag.html"
    src.write_text("<!doctype html>\n<title>T</title>\n<p>Hello\n", encoding="utf-8")
    out = mark_path(src, profile, produce_id="html-2", position="start").read_text(encoding="utf-8")
    reader = read_html(out)
    assert reader.metas == [("AIGC", _record("html-2").to_json(), True)]
    assert reader.notices == [NOTICE]
    assert out.index("<head>") < out.index("<meta name=\"AIGC\"") < out.index("<title>") < out.index(ELEMENT) \
        < out.index("<p>Hello")


def test_pure_ascii_file_gets_a_utf8_note(tmp_path: Path, profile: str) -> None:
    src = tmp_path / "a.txt"
    src.write_bytes(b"plain ascii\n")
    result = aigclabel.mark_file(src, tmp_path / "o.txt", producer=PRODUCER, profile=profile)
    assert any("UTF-8" in note for note in result.notes)
    assert result.explicit_details["encoding"] == "UTF-8" and result.explicit_details["newline"] == "LF"
    assert (tmp_path / "o.txt").read_bytes() == ("plain ascii\n\n" + NOTICE + "\n").encode("utf-8")


# ============================================================================= re-marking


@pytest.mark.parametrize("name, content", [
    ("a.txt", "Line one\nLine two\n"),
    ("a.md", "---\ntitle: t\n---\n\n# T\n\ntext"),
    ("a.html", "<html><head><title>t</title></head><body><p>x</p></body></html>"),
])
@pytest.mark.parametrize("position", ["start", "end", "both"])
def test_marking_twice_keeps_one_notice_and_one_record(tmp_path: Path, profile: str, name: str, content: str,
                                                       position: str) -> None:
    src = tmp_path / name
    src.write_text(content, encoding="utf-8")
    once = mark_path(src, profile, position=position, produce_id="first")
    twice = mark_path(once, profile, position=position, produce_id="second", out=tmp_path / ("2-" + name))
    text1, text2 = once.read_text(encoding="utf-8"), twice.read_text(encoding="utf-8")
    assert text2 == text1.replace("first", "second")
    assert text2.count(NOTICE) == (2 if position == "both" else 1)
    report = aigclabel.verify(twice, profile=profile)
    assert [lab.fields["ProduceID"] for lab in report.labels] == ([] if name.endswith(".txt") else ["second"])
    # another position on re-marking moves the notice instead of adding one
    moved = mark_path(once, profile, position="start" if position != "start" else "end",
                      out=tmp_path / ("3-" + name)).read_text(encoding="utf-8")
    assert moved.count(NOTICE) == 1


def test_remarking_with_new_text_replaces_the_default_notice(tmp_path: Path, profile: str) -> None:
    src = tmp_path / "a.txt"
    src.write_text("Body\n", encoding="utf-8")
    once = mark_path(src, profile)
    out = mark_path(once, profile, text="本文由AI生成", out=tmp_path / "b.txt").read_text(encoding="utf-8")
    assert out == "Body\n\n本文由AI生成\n"


def test_user_lines_mentioning_ai_generation_are_never_removed() -> None:
    text = "AI生成的图像越来越多。\n\n结论：人工智能生成内容需要标识。\n"
    out = mark_text(text)
    assert out == text + "\n" + NOTICE + "\n"
    assert mark_text(out) == out


# ============================================================================= string API


def test_mark_text_and_verify_text_round_trip(profile: str) -> None:
    for fmt in ("text", "markdown", "html"):
        src = {"text": "答案如下。\n", "markdown": "# 答案\n\n如下。\n",
               "html": "<html><head></head><body><p>答案</p></body></html>"}[fmt]
        out = mark_text(src, fmt=fmt, producer=PRODUCER, produce_id="s-1", profile=profile)
        assert isinstance(out, str) and NOTICE in out
        report = verify_text(out, fmt=fmt, profile=profile)
        assert report.verdict is Verdict.COMPLIANT, (fmt, [f.to_dict() for f in report.findings])
        assert report.format == {"text": "txt"}.get(fmt, fmt)
        if fmt == "text":
            assert not report.labels
            info = findings(report, "implicit.record-present")
            assert info and info[0].level is Level.INFO and "notice alone" in info[0].message
        else:
            assert [lab.fields for lab in report.labels] == [_record("s-1").to_dict()]
    plain = mark_text("x", position="start", notice="AI生成")
    assert plain == "AI生成\n\nx"


def test_mark_text_rejects_bad_wording_position_and_format() -> None:
    with pytest.raises(LabelError, match="generation element"):
        mark_text("x", notice="由AI提供")
    with pytest.raises(LabelError, match="position"):
        mark_text("x", position="middle")
    with pytest.raises(LabelError, match="fmt"):
        mark_text("x", fmt="rtf")
    with pytest.raises(LabelError, match="ContentProducer"):
        mark_text("x", fmt="markdown", producer="有空格 的名字")
    with pytest.raises(TypeError):
        mark_text(b"bytes")  # type: ignore[arg-type]


def test_mark_text_keeps_crlf_and_unmarked_text_verbatim() -> None:
    text = "a\r\nb\r\n"
    assert mark_text(text) == "a\r\nb\r\n\r\n" + NOTICE + "\r\n"
    html_in = "<P>Ünïcode &amp; <B>bold</B>\n"
    out = mark_text(html_in, fmt="html")
    assert out.replace(ELEMENT + "\n", "") == html_in


@pytest.mark.parametrize("fmt, text, level, needle", [
    ("text", "只是一段文字。\n没有标识。\n", Level.ERROR, "no explicit notice"),
    ("text", "正文第一行。\n正文第二行。\n\n由AI提供\n", Level.ERROR, "no generation element"),
    ("text", "智枢生成\n\n正文。\n正文。\n", Level.ERROR, "no AI element"),
    ("text", "一\n二\n三\n本内容由人工智能生成\n四\n五\n六\n", Level.WARNING, "only in the middle"),
    ("markdown", "---\nnote: 本内容由人工智能生成\n---\n正文\n", Level.ERROR, "no explicit notice"),
    ("markdown", "正文\n\n<!-- 本内容由人工智能生成 -->\n", Level.ERROR, "no explicit notice"),
    ("html", "<html><head><title>本内容由人工智能生成</title></head><body><p>正文</p></body></html>",
     Level.ERROR, "visible text"),
    ("html", "<body><p>正文</p><script>var n='本内容由人工智能生成'</script></body>", Level.ERROR,
     "visible text"),
    ("html", f"<body><p>正文</p><p hidden>{NOTICE}</p></body>", Level.ERROR, "visible text"),
    ("html", f"<body><p>正文</p><div style='display:none'><p>{NOTICE}</p></div></body>", Level.ERROR,
     "visible text"),
    ("html", "<body><p>正文</p><p>本网页由AI整理</p></body>", Level.ERROR, "no generation element"),
    ("text", "", Level.ERROR, "empty"),
])
def test_explicit_findings(profile: str, fmt: str, text: str, level: Level, needle: str) -> None:
    report = verify_text(text, fmt=fmt, profile=profile, scope="explicit")
    (finding,) = findings(report, "explicit.text")
    assert finding.level is level and needle in finding.message, finding.to_dict()
    assert finding.clause == CLAUSE


@pytest.mark.parametrize("fmt, text", [
    ("text", "  \n\n本内容由人工智能生成\n\n正文\n"),
    ("text", "标题\n本文由AI生成\n正文一\n正文二\n正文三\n"),  # right under a title counts as the start
    ("text", "正文\n\n—— 本内容由人工智能合成 ——   \n\n\n"),
    ("markdown", "---\na: 1\n---\n\n*本内容由人工智能生成*\n\n正文\n"),
    ("html", "<body><header><p>本内容由 <b>AI</b> 生成</p></header><main><p>正文</p></main></body>"),
])
def test_notices_found_at_the_edges(profile: str, fmt: str, text: str) -> None:
    (finding,) = findings(verify_text(text, fmt=fmt, profile=profile, scope="explicit"), "explicit.text")
    assert finding.level is Level.PASS, finding.to_dict()


def test_middle_only_level_is_a_profile_option(tmp_path: Path) -> None:
    path = tmp_path / "strict.toml"
    path.write_text(f'id = "strict"\nextends = "cn-gb45438-2025"\n[rules."explicit.text"]\nclause = "{CLAUSE}"\n'
                    'middle_only = "error"\nedge_blocks = 1\n', encoding="utf-8")
    report = verify_text("标题\n本文由AI生成\n正文\n", profile=str(path), scope="explicit")
    (finding,) = findings(report, "explicit.text")
    assert finding.level is Level.ERROR and "middle" in finding.message


def test_markdown_front_matter_variants_are_read() -> None:
    rec = _record("v-1")
    flow = f"---\nAIGC: {rec.to_json()}\n---\nx\n"
    string = f"---\nAIGC: '{rec.to_json()}'\n---\nx\n"
    comment = f"x\n<!-- AIGC{rec.to_json()} -->\n"
    block = f"---\nAIGC: |\n  {rec.to_json()}\n---\nx\n"
    # a JSON object on the key's line is a YAML flow mapping: the same data as the block mapping, so the
    # normative carrier (its style is an info finding); a quoted or block string holding JSON is not
    for text, normative in ((flow, True), (string, False), (comment, False), (block, False)):
        (label,) = verify_text(text, fmt="markdown", scope="implicit").labels
        assert label.fields == rec.to_dict() and label.normative is normative
    html_comment = f"<html><head><!-- {{\"AIGC\":{rec.to_json()}}} --></head><body></body></html>"
    (label,) = verify_text(html_comment, fmt="html", scope="implicit").labels
    assert label.form == "wrapped" and label.carrier == "html:comment"
    (label,) = verify_text(f"正文\nAIGC{rec.to_json()}\n", scope="implicit").labels
    assert label.carrier == "text:line" and label.fields == rec.to_dict()


def test_marking_replaces_variant_records(tmp_path: Path, profile: str) -> None:
    old = _record("old").to_json()
    src = tmp_path / "a.html"
    src.write_text(f"<html><head><meta name='aigc-label' content='{old}'><!-- AIGC{old} --></head>"
                   "<body><p>x</p></body></html>", encoding="utf-8")
    out = mark_path(src, profile, produce_id="new").read_text(encoding="utf-8")
    assert "old" not in out and read_html(out).metas == [("AIGC", _record("new").to_json(), True)]
    md = tmp_path / "b.md"
    md.write_text(f"---\ntitle: t\nAIGC:\n  Label: \"1\"\n  ProduceID: old\nother: 1\n---\n<!-- AIGC{old} -->\nx\n",
                  encoding="utf-8")
    out = mark_path(md, profile, produce_id="new").read_text(encoding="utf-8")
    assert "old" not in out
    assert front_matter(out) == {"title": "t", "AIGC": _record("new").to_dict(), "other": 1}


def test_legacy_profile_record_in_front_matter(tmp_path: Path) -> None:
    out = mark_text("x\n", fmt="markdown", producer="示例服务", produce_id="c-1", profile="cn-tc260-2023")
    meta = front_matter(out)["AIGC"]
    assert meta["ServiceProvider"] == "示例服务" and meta["ContentID"] == "c-1"
    (label,) = verify_text(out, fmt="markdown", profile="cn-tc260-2023", scope="implicit").labels
    assert label.form == "legacy-2023"


# ============================================================================= sidecar


def test_sidecar_is_written_atomically(tmp_path: Path) -> None:
    target = tmp_path / "story.txt"
    target.write_text("x", encoding="utf-8")
    path = write_sidecar(target, _record("side-1"))
    assert path == sidecar_path(target) == tmp_path / "story.txt.aigc.json"
    assert json.loads(path.read_text(encoding="utf-8")) == _record("side-1").to_dict()
    with pytest.raises(OutputError):
        write_sidecar(target, _record("side-2"))
    write_sidecar(target, _record("side-2").to_json(), overwrite=True)
    assert "side-2" in path.read_text(encoding="utf-8")
    with pytest.raises(LabelError):
        write_sidecar(target, "not json", overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["story.txt", "story.txt.aigc.json"]


# ============================================================================= bad input


LONG = b"a clean first line that fills the 64 bytes detection looks at.\n" * 2


@pytest.mark.parametrize("data", [
    LONG + b"\xff\xfe\xfd" * 10,  # neither UTF-8 nor GB18030 after a clean head
    LONG + b"then a NUL\x00",
    codecs.BOM_UTF16_LE + LONG.decode().encode("utf-16-le") + b"\x00\xd8a\x00",  # a lone surrogate
    codecs.BOM_UTF8 + LONG + b"bad \xc3\x28",
], ids=["no-encoding", "nul", "utf16-surrogate", "utf8-bom-invalid"])
def test_undecodable_text_is_corrupt(tmp_path: Path, data: bytes) -> None:
    src = tmp_path / "bad.txt"
    src.write_bytes(data)
    with pytest.raises(CorruptFile):
        aigclabel.verify(src)
    with pytest.raises(CorruptFile):
        aigclabel.mark_file(src, tmp_path / "o.txt", producer=PRODUCER)
    assert not (tmp_path / "o.txt").exists() and src.read_bytes() == data


def test_unclosed_front_matter(tmp_path: Path, profile: str) -> None:
    text = "---\ntitle: never closed\n\n# Body\n\n本内容由人工智能生成\n"
    src = tmp_path / "a.md"
    src.write_text(text, encoding="utf-8")
    report = aigclabel.verify(src, profile=profile)
    assert any(f.rule == "format.markdown" and "never closes" in f.message for f in report.findings)
    assert findings(report, "explicit.text")[0].level is Level.PASS
    with pytest.raises(CorruptFile, match="never closes"):
        mark_path(src, profile)
    assert src.read_text(encoding="utf-8") == text and not (tmp_path / "out-a.md").exists()
    with pytest.raises(CorruptFile):
        mark_text(text, fmt="markdown", producer=PRODUCER)


@pytest.mark.parametrize("doc", [
    "<html><head><script>document.write('</head><body>')</script><style>/*<body>*/</style></head>"
    "<!-- <body><p>x</p></body> --><body><p>real</p></body></html>",
    "<p>unclosed <b>tags <i>everywhere<div><span>",
    "<p>text</p><!-- comment that never closes <body>",
    "<p>text</p><script>var s = '</head></body>';",  # script never closed
    "<p>text</p><a href='never closed",  # the text ends inside a tag
    "<<<>>>< <a <b <c =>= </ </> <! <? &&&& &#xFFFFFFFF; &#0;",
])
def test_hostile_html(doc: str, profile: str) -> None:
    out = mark_text(doc, fmt="html", producer=PRODUCER, produce_id="h-1", position="both")
    assert mark_text(out, fmt="html", producer=PRODUCER, produce_id="h-1", position="both") == out
    reader = read_html(out)
    assert reader.metas[0][:2] == ("AIGC", _record("h-1").to_json())
    report = verify_text(out, fmt="html", profile=profile)
    (finding,) = findings(report, "explicit.text")
    assert finding.level is Level.PASS, (out, finding.to_dict())
    assert [lab.raw for lab in report.labels] == [_record("h-1").to_json()]


def test_big_single_line_file_is_linear(tmp_path: Path, profile: str) -> None:
    size = 20 << 20
    src = tmp_path / "big.txt"
    src.write_bytes(b"x" * size)
    start = time.perf_counter()
    out = mark_path(src, profile)
    report = aigclabel.verify(out, profile=profile)
    elapsed = time.perf_counter() - start
    assert findings(report, "explicit.text")[0].level is Level.PASS
    assert out.stat().st_size == size + 2 + len(NOTICE.encode("utf-8"))
    assert elapsed < 15, f"{elapsed:.1f}s for 20 MiB: not linear?"


@pytest.mark.parametrize("fmt, text", [
    ("html", "<p a='" + "x" * (4 << 20)),
    ("html", "<a " * (1 << 19)),
    ("html", "<!--" + "<body>" * (1 << 19)),
    ("markdown", "---\n" + " " * (8 << 20)),
    ("markdown", "---\nAIGC: " + "\"" + "\\" * (4 << 20) + "\n---\n"),
    ("text", "\n" * (4 << 20) + NOTICE),
], ids=["html-long-attr", "html-open-tags", "html-unclosed-comment", "md-blank-front-matter",
        "md-backslashes", "text-newlines"])
def test_pathological_input_stays_fast(fmt: str, text: str) -> None:
    start = time.perf_counter()
    try:
        mark_text(text, fmt=fmt, producer=PRODUCER)
    except CorruptFile:
        pass
    verify_text(text, fmt=fmt)
    # generous for a shared 2-core machine; a quadratic path on 4-8 MiB takes minutes
    assert time.perf_counter() - start < 30


def test_non_text_names_are_not_given_a_notice(tmp_path: Path, profile: str) -> None:
    src = tmp_path / "data.csv"
    src.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(UnsupportedOperation, match=r"\.csv"):
        aigclabel.mark_file(src, tmp_path / "o.csv", producer=PRODUCER, profile=profile)
    assert not (tmp_path / "o.csv").exists()
    # the same content as bytes (no name) is plain text when the caller says so (kind="text")
    assert aigclabel.mark(src.read_bytes(), producer=PRODUCER, profile=profile, kind="text").endswith(
        ("\n\n" + NOTICE + "\n").encode("utf-8"))


# ============================================================================= the marker and the pure functions


def test_marker_details_and_replacement_count() -> None:
    data = ("x\n\n" + NOTICE + "\n").encode("utf-8")
    src = CountingReader(io.BytesIO(data), "<bytes>", len(data))
    result = notice_mod.TextMarker().apply(src, TextHandler(), ExplicitOptions(text="AI生成",
                                                                             extra={"text_position": "start"}))
    assert result.data.decode("utf-8") == "AI生成\n\nx\n"
    assert result.details["replaced"] == 1 and result.details["position"] == "start"
    assert any("replaced 1 earlier notice" in n for n in result.notes)


def test_image_positions_map_to_text_positions() -> None:
    assert notice_mod.text_position(ExplicitOptions(text=NOTICE, position="top-left")) == "start"
    assert notice_mod.text_position(ExplicitOptions(text=NOTICE)) == "end"
    with pytest.raises(LabelError):
        notice_mod.text_position(ExplicitOptions(text=NOTICE, extra={"text_position": "left"}))


@pytest.mark.parametrize("text", ["", "x", "x\n", "\n", "\n\nx", "x\r\ny", "  x  \n\n", "a\n\n\n"])
@pytest.mark.parametrize("position", ["start", "end", "both"])
def test_notice_round_trip_is_exact(text: str, position: str) -> None:
    out = notice_mod.apply_notice(text, NOTICE, position=position)
    assert notice_mod.remove_notices(out) == text
    assert notice_mod.apply_notice(out, NOTICE, position=position) == out


def test_decode_reports_where() -> None:
    with pytest.raises(CorruptFile, match="offset 3"):
        decode_bytes(b"abc\xff\xff\xff")
    assert decode_bytes("中文".encode("gb18030")).encoding == "gb18030"
    assert decode_bytes(codecs.BOM_UTF16_BE + "x".encode("utf-16-be")).display_encoding == "UTF-16BE with BOM"


def test_inspect_reports_text_facts(tmp_path: Path) -> None:
    src = tmp_path / "a.md"
    src.write_bytes(codecs.BOM_UTF8 + "# T\r\n".encode("utf-8"))
    info = aigclabel.inspect(src).info
    expected = {"encoding": "UTF-8 with BOM", "bom": True, "newline": "CRLF", "final_newline": True,
                "characters": 5, "implicit_carrier": True}
    assert {key: info.get(key) for key in expected} == expected
    assert aigclabel.inspect(b"plain").info["implicit_carrier"] is False
    assert [h.name for h in (TextHandler, MarkdownHandler, HtmlHandler)] == ["txt", "markdown", "html"]
    assert handler_for(CountingReader(io.BytesIO(b"x"), "a.htm", 1)).name == "html"


# ============================================================================= fuzzing

_PIECES = st.sampled_from([*"ab \n\r\t<>/!-=\"'&;#", "<body>", "</body>", "<head>", "</head>", "<html>", "<!--",
                           "-->", "<script>", "</script>", "---\n", "AIGC:", NOTICE, "<p data-aigc-notice>", "</p>",
                           "<meta name=AIGC content='x'>", "\r\n", "<title>", "<!doctype html>", "中文"])


@settings(max_examples=300, deadline=None)
@given(text=st.lists(_PIECES, max_size=25).map("".join), fmt=st.sampled_from(["text", "markdown", "html"]),
       position=st.sampled_from(["start", "end", "both"]))
def test_remarking_is_stable_on_any_text(text: str, fmt: str, position: str) -> None:
    try:
        once = mark_text(text, fmt=fmt, position=position, producer=PRODUCER, produce_id="f")
    except CorruptFile:
        return  # an unclosed front matter
    twice = mark_text(once, fmt=fmt, position=position, producer=PRODUCER, produce_id="f")
    assert mark_text(twice, fmt=fmt, position=position, producer=PRODUCER, produce_id="f") == twice
    if fmt != "text":
        assert [lab.fields["ProduceID"] for lab in verify_text(twice, fmt=fmt).labels] == ["f"]
    if NOTICE not in text and fmt != "html":
        assert twice.count(NOTICE) == (2 if position == "both" else 1)




def test_html_fragment_gets_the_record_without_a_stray_head() -> None:
    # issue 14 item 16: a fragment (no doctype, <html> or <head>) is a piece of a page; a <head> tag would be stray
    # markup wherever it is pasted.  The record goes in as a leading <meta>, which a document parse puts in the head.
    fragment = "<p>Hello world</p>\n<p>second paragraph</p>\n"
    out = aigclabel.mark_text(fragment, fmt="html", producer=PRODUCER, produce_id="frag-1")
    assert "<head" not in out.lower()
    assert out.startswith('<meta name="AIGC" content=')
    assert fragment.strip() in out
    # exiftool reads <meta> only inside a <head>, so the independent reader here is the standard library's parser
    from html.parser import HTMLParser

    found: list[str] = []

    class Metas(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            values = dict(attrs)
            if tag == "meta" and values.get("name") == "AIGC":
                found.append(values.get("content") or "")

    Metas().feed(out)
    assert len(found) == 1 and json.loads(found[0])["ProduceID"] == "frag-1"
    report = aigclabel.verify_text(out, fmt="html", scope="all")
    assert report.verdict is Verdict.COMPLIANT, [f.to_dict() for f in report.findings]
    # a document that has <html> but no <head> still gets one (it clearly wants a head)
    doc = aigclabel.mark_text("<!doctype html><html><body><p>x</p></body></html>\n", fmt="html", producer=PRODUCER)
    assert "<head>" in doc and doc.index("<head>") < doc.index('<meta name="AIGC"') < doc.index("<body>")


def test_marking_an_html_fragment_says_where_the_record_went(tmp_path: Path) -> None:
    src = tmp_path / "fragment.html"
    src.write_text("<p>generated answer</p>\n", encoding="utf-8")
    result = aigclabel.mark_file(src, tmp_path / "out.html", producer=PRODUCER)
    assert any("HTML fragment" in n and "first line" in n for n in result.notes), result.notes
    full = tmp_path / "doc.html"
    full.write_text("<!doctype html><html><head><title>t</title></head><body><p>x</p></body></html>\n")
    assert not any("fragment" in n for n in aigclabel.mark_file(full, tmp_path / "doc-out.html",
                                                                producer=PRODUCER).notes)


def test_notice_wording_is_matched_literally(tmp_path: Path) -> None:
    """The wording lists are words, not patterns: "A.I." does not match "AxI", and a list left empty matches
    nothing (the notice search compiles them into one expression)."""
    path = tmp_path / "dotted.toml"
    path.write_text('id = "dotted"\nextends = "cn-gb45438-2025"\n[marking]\nwording_ai = ["A.I.", "(AI)"]\n',
                    encoding="utf-8")
    for text, level in (("本内容由A.I.生成\n正文\n", Level.PASS), ("本内容由(AI)生成\n正文\n", Level.PASS),
                        ("本内容由AxI生成\n正文\n", Level.ERROR), ("本内容由AI生成\n正文\n", Level.ERROR)):
        (finding,) = findings(verify_text(text, profile=str(path), scope="explicit"), "explicit.text")
        assert finding.level is level, (text, finding.to_dict())
    empty = tmp_path / "empty.toml"
    empty.write_text('id = "empty"\nextends = "cn-gb45438-2025"\n[marking]\nwording_generation = []\n',
                     encoding="utf-8")
    (finding,) = findings(verify_text("本内容由人工智能生成\n正文\n", profile=str(empty), scope="explicit"),
                          "explicit.text")
    assert finding.level is not Level.PASS, finding.to_dict()

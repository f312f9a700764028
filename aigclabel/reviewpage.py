"""The review page's data: one file's view (verdict, notice, record, findings, evidence drawn where it is).

:func:`build_view` reviews a file as a platform (:func:`aigclabel.platform.review`), runs the
profile's checks over the same file, and gathers what a moderator needs to *see*: a preview picture
with the OCR'd text boxes (original pixels, height as % of the short side) and the edge band the
label must be in, an audio waveform with the prompt segments (seconds), the passage of a document
where the notice was found, the C2PA manifest chain, the record's fields with the provider codes
decoded, and the SecurityData state.  It is plain JSON, shared by ``aigclabel serve`` (``POST
/v1/inspect``, rendered by the page at ``/``) and ``aigclabel review --html`` (:func:`render_html`:
one self-contained file, the same script and style inlined, the views embedded as JSON).

The explicit checks run once: when the review already ran them (no record decided the tier) their
findings are reused, else they run here, because the page shows their boxes and segments either way.
Everything shown comes from a file and is untrusted: the page sets it as text, never as markup.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
from importlib import resources
from typing import Any

from .errors import AigcLabelError
from .limits import Limits
from .platform import PlatformConfig, review
from .profiles import load_profile
from .provider_code import is_valid_uscc, parse_provider_code
from .report import Finding, Level, Report

__all__ = ["build_view", "render_html", "page_asset", "verdict_words", "PREVIEW_SIDE", "VIEW_VERSION"]

VIEW_VERSION = 1
#: longest side of the preview picture (pixels); boxes stay in original pixels, the page scales them
PREVIEW_SIDE = 1024
#: waveform columns (min/max pairs) and the longest audio drawn whole (seconds; longer: the windows searched)
_WAVE_BINS = 800
_WAVE_MAX_S = 900.0
_WAVE_RATE = 8000
_PASSAGE_CHARS = 600

_REASON = {
    1: ("the file's AIGC record says so", "文件的隐式标识说明"),
    2: ("the uploader declared it", "上传者声明"),
    3: ("traces of generation were found", "检测到生成痕迹"),
}


def verdict_words(tier: int | None, cfg: PlatformConfig) -> dict[str, str]:
    """The tier in plain words, zh and en, built on the platform's notice texts."""
    if tier is None:
        return {"en": "No tier: no AI-generation label or trace was found; no notice to show",
                "zh": "无分级：未发现AI生成标识或痕迹，无需展示提示"}
    en_notice = cfg.notices.get("en", {}).get(tier, "")
    zh_notice = cfg.notices.get("zh", {}).get(tier, "")
    reason_en, reason_zh = _REASON[tier]
    return {"en": f"Tier {tier}: {en_notice} ({reason_en})", "zh": f"第{tier}级：{zh_notice}（{reason_zh}）"}


def build_view(path: str, *, platform: PlatformConfig, declared_ai: bool = False, password: str | None = None,
               limits: Limits | None = None, name: str | None = None) -> dict[str, Any]:
    """The view of the file at *path* (see the module docs); raises what :func:`review` raises."""
    from .reading import C2PA_NOTE, read_evidence
    from .verifier import check_evidence

    rev = review(path, platform=platform, declared_ai=declared_ai, password=password, limits=limits)
    prof = load_profile(platform.profile)
    view: dict[str, Any] = {"version": VIEW_VERSION, "name": name or os.path.basename(path), "format": rev.format,
                            "profile": prof.id, "review": rev.to_dict(),
                            "verdict": {"tier": rev.tier, "words": verdict_words(rev.tier, platform)}}
    # No profile here: the manifest is read whatever the profile's rules need, as review() reads it, because
    # the page draws the C2PA chain that the review's tier may rest on (the Chinese profiles have no C2PA rule).
    with read_evidence(path, password=password, c2pa_mode=C2PA_NOTE, limits=limits) as opened:
        src, handler, evidence = opened.src, opened.handler, opened.evidence
        findings = list(evidence.findings) + check_evidence(evidence, prof, "implicit", src, handler=handler)
        explicit = rev.findings or check_evidence(evidence, prof, "explicit", src, handler=handler)
        findings += explicit
        view["kind"] = evidence.kind
        view["size"] = src.size
        report = Report(path=view["name"], format=evidence.format, profile=prof.id, findings=findings,
                        labels=evidence.labels, traces=evidence.traces)
        drawn: dict[str, Any] = {}
        for what, make in (("image", _image), ("audio", _audio), ("document", _document)):
            try:
                part = make(src, handler, evidence, findings)
            except (AigcLabelError, MemoryError) as exc:  # a preview that cannot be made is said, not fatal
                part = {"error": f"the {what} preview could not be made: {exc}"}
            if part is not None:
                drawn[what] = part
        view["evidence"] = drawn
        view["c2pa"] = _c2pa(evidence.info)
        labels = [{"carrier": lab.carrier, "location": lab.location, "normative": lab.normative,
                   "raw": lab.raw, "fields": _fields(lab.fields or {}),
                   "problems": [p.message for p in (lab.parsed.problems if lab.parsed is not None else [])]}
                  for lab in evidence.labels]
    view["report"] = report.to_dict()
    view["compliance"] = {"verdict": report.verdict.value, "outcome": report.outcome}
    view["findings"] = [_finding(f) for f in findings]
    view["labels"] = labels
    view["record"] = _fields(rev.record.to_dict()) if rev.record is not None else None
    view["security"] = _security(findings)
    return view


# ------------------------------------------------------------------------------------------ record


def _code(value: str) -> dict[str, Any] | None:
    code = parse_provider_code(value)
    if code is None:
        return None
    return {"uscc": code.uscc, "uscc_valid": is_valid_uscc(code.uscc), "service_type": code.service_type,
            "model_code": code.model_code, "extension": code.extension}


def _fields(fields: dict[str, Any]) -> list[dict[str, Any]]:
    """The record's fields in order, the two provider codes decoded (organisation USCC, service type)."""
    out = []
    for key, value in fields.items():
        item: dict[str, Any] = {"name": str(key), "value": value if isinstance(value, str) else json.dumps(value)}
        if key in ("ContentProducer", "ContentPropagator") and isinstance(value, str):
            item["code"] = _code(value)
        out.append(item)
    return out


def _security(findings: list[Finding]) -> dict[str, Any] | None:
    mine = [f for f in findings if f.rule == "implicit.security-data"]
    if not mine:
        return None
    order = [Level.ERROR, Level.WARNING, Level.NOT_CHECKED, Level.INFO, Level.PASS]
    worst = min(mine, key=lambda f: order.index(f.level))
    return {"state": worst.level.value, "items": [{"level": f.level.value, "message": f.message,
                                                   "location": f.location} for f in mine]}


def _finding(f: Finding) -> dict[str, Any]:
    item = f.to_dict()
    item["required"] = f.required
    if f.data is not None:
        item["data"] = f.data
    return item


# ------------------------------------------------------------------------------------------ image


def _image(src: Any, handler: Any, evidence: Any, findings: list[Finding]) -> dict[str, Any] | None:
    if evidence.kind != "image":
        return None
    from PIL import ImageOps

    from .foreign import pillow_errors

    access = handler.image_access(src)
    w, h = access.size
    orientation = access.orientation()
    scale = min(1.0, PREVIEW_SIDE / max(w, h, 1))
    draft = (max(1, round(w * scale)), max(1, round(h * scale))) if scale < 0.5 else None
    im = access.picture(draft=draft)
    with pillow_errors("making the preview"):
        if orientation != 1:
            im = ImageOps.exif_transpose(im) or im
        im = im.convert("RGB")
        im.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=82)
    width, height = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
    part: dict[str, Any] = {"width": width, "height": height, "preview": "data:image/jpeg;base64,"
                            + base64.b64encode(buf.getvalue()).decode("ascii"),
                            "preview_size": list(im.size)}
    ocr = next((f for f in findings if f.rule == "explicit.image" and f.data), None)
    if ocr is not None and ocr.data is not None:
        part["ocr"] = ocr.data
    return part


# ------------------------------------------------------------------------------------------ audio


def _audio(src: Any, handler: Any, evidence: Any, findings: list[Finding]) -> dict[str, Any] | None:
    if evidence.kind != "audio":
        return None
    prompt = next((f for f in findings if f.rule == "explicit.audio" and f.data), None)
    data = prompt.data if prompt is not None and prompt.data is not None else {}
    part: dict[str, Any] = {"segments": data.get("segments", []), "windows": data.get("windows", [])}
    try:
        import numpy as np
    except ImportError:
        part["error"] = "no waveform: numpy is not installed (pip install 'aigclabel[audio]')"
        return part
    access = handler.audio_access(src)
    duration = access.info.duration_s or data.get("duration_s")
    if duration and duration <= _WAVE_MAX_S:
        spans = [("whole file", 0.0, float(duration))]
    else:
        spans = [(str(n), float(a), float(b)) for n, a, b in part["windows"]] or [("start", 0.0, 20.0)]
    columns: list[list[float]] = []
    drawn: list[list[float]] = []
    total = sum(b - a for _n, a, b in spans) or 1.0
    for win in access.windows(spans, _WAVE_RATE):
        x = np.asarray(win.samples, dtype=np.float32)
        seconds = len(x) / win.rate if win.rate else 0.0
        bins = max(1, round(_WAVE_BINS * seconds / total))
        if len(x) == 0:
            continue
        edges = np.linspace(0, len(x), bins + 1).astype(int)
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            chunk = x[a:max(b, a + 1)]
            columns.append([round(float(chunk.min()), 4), round(float(chunk.max()), 4)])
        drawn.append([round(win.start_s, 3), round(win.start_s + seconds, 3), len(columns)])
    part.update({"duration_s": duration, "peaks": columns, "spans": drawn, "rate": access.info.rate,
                 "decoder": access.info.decoder})
    return part


# ------------------------------------------------------------------------------------------ documents


def _document(src: Any, handler: Any, evidence: Any, findings: list[Finding]) -> dict[str, Any] | None:
    if evidence.kind not in ("document", "text"):
        return None
    notice = next((f for f in findings if f.rule in ("explicit.document", "explicit.text")), None)
    part: dict[str, Any] = {"where": notice.location if notice is not None else None, "passage": None}
    if notice is None or notice.location is None:
        return part
    access = handler.document_access(src)
    text, highlight = "", notice.actual or ""
    page = re.match(r"page (\d+)", notice.location)
    line = re.match(r"line (\d+)", notice.location)
    if page and hasattr(access, "page_text"):
        text = access.page_text(int(page.group(1)) - 1)
    elif line and hasattr(access, "visible_blocks"):
        want = int(line.group(1))
        near: list[tuple[str, int]] = []
        for block, number in access.visible_blocks():
            if number >= want - 3:
                near.append((block, number))
            if number > want + 3:
                break
        text = "\n".join(block for block, _n in near)
        highlight = next((block for block, number in near if number == want), highlight)
    else:
        text = highlight
    start = text.find(highlight) if highlight else -1
    if start < 0:
        compact = re.sub(r"\s+", "", highlight)
        start, highlight = (text.find(compact), compact) if compact and compact in text else (-1, "")
    if start >= 0:
        lo = max(0, start - _PASSAGE_CHARS // 2)
        text = text[lo:start + len(highlight) + _PASSAGE_CHARS // 2]
        start -= lo
    else:
        text = text[:_PASSAGE_CHARS]
    part["passage"] = {"text": text, "start": start, "length": len(highlight) if start >= 0 else 0}
    return part


# ------------------------------------------------------------------------------------------ C2PA


def _c2pa(info: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest chain: the active manifest, then each ingredient with what its own manifest says."""
    if "c2pa_error" in info:
        return {"status": "error", "message": str(info["c2pa_error"])}
    found = info.get("c2pa") or {}
    if found.get("status") != "present":
        return None if found.get("status") in (None, "absent", "unsupported-format") else {
            "status": found.get("status"), "message": found.get("message", "")}
    m = found.get("manifest") or {}
    signals = m.get("signals") or []

    def of(label: str) -> list[dict[str, str]]:
        return [{"signal": s.get("signal", ""), "action": s.get("action", ""),
                 "digitalSourceType": s.get("digitalSourceType", "")} for s in signals if s.get("manifest") == label]

    active = {"label": m.get("label"), "title": m.get("title"), "state": m.get("state"),
              "claim_generator": m.get("claim_generator"), "signer": m.get("signer") or {},
              "actions": [{"action": str(a.get("action", "")), "digitalSourceType": a.get("digitalSourceType"),
                           "softwareAgent": json.dumps(a["softwareAgent"]) if isinstance(a.get("softwareAgent"),
                                                                                         dict)
                           else a.get("softwareAgent")} for a in m.get("actions") or [] if isinstance(a, dict)],
              "signals": of(str(m.get("label"))), "failures": [f.get("code") for f in m.get("failures") or []]}
    ingredients = [{"title": ing.get("title"), "relationship": ing.get("relationship"),
                    "manifest": ing.get("manifest") or None, "failures": ing.get("failures") or [],
                    "signals": of(str(ing.get("manifest"))) if ing.get("manifest") else []}
                   for ing in m.get("ingredients") or []]
    return {"status": "present", "active": active, "ingredients": ingredients,
            "ai_disclosures": [{"role": d.get("role"), "manifest": d.get("manifest"), "data": d.get("data")}
                               for d in m.get("ai_disclosures") or []]}


# ------------------------------------------------------------------------------------------ HTML


def page_asset(name: str) -> str:
    """The text of one of the page's packaged assets (``index.html``, ``page.js``, ``page.css``)."""
    return resources.files("aigclabel.service").joinpath("static", name).read_text("utf-8")


def _json_for_script(data: Any) -> str:
    """JSON safe inside a <script> element: no '<', '>', '&' or line separators a parser could end it on."""
    text = json.dumps(data, ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def render_html(views: list[dict[str, Any]], errors: list[dict[str, str]] | None = None) -> str:
    """One self-contained HTML file showing *views*: the page's style and script inlined (allowed by hash in
    its Content-Security-Policy, nothing else may run or load), the views embedded as JSON."""
    style, script = page_asset("page.css"), page_asset("page.js")
    data = _json_for_script({"views": views, "errors": errors or []})
    csp = (f"default-src 'none'; script-src {_sha256(script)}; style-src {_sha256(style)}; img-src data: blob:; "
           "base-uri 'none'; form-action 'none'")
    html = page_asset("index.html")
    html = html.replace("<!--CSP-->", f'<meta http-equiv="Content-Security-Policy" content="{csp}">')
    html = html.replace('<link rel="stylesheet" href="ui/page.css">', f"<style>{style}</style>")
    html = html.replace('<script src="ui/page.js"></script>',
                        f'<script type="application/json" id="aigc-data">{data}</script>\n<script>{script}</script>')
    return html

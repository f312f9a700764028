"""C2PA Content Credentials: read and validate manifests, and sign one as the last step of marking.

Built on c2pa-python (``pip install 'aigclabel[c2pa]'``), imported only when a manifest is read or
signed, so everything else works without it; checks that need it then report *not checked*.

Reading (:func:`read_manifest`, and :func:`merge_evidence`, the verifier's hook) reports the
validation state -- ``Trusted`` (signature and bindings intact, signer chains to a trust anchor),
``Valid`` (intact, signer not on a trust list), ``Invalid`` -- with the failure codes (the active
manifest's and those the SDK reports for its ingredients), the signer, the actions and the
``digitalSourceType`` of the first one, and the AIGC assertion aigclabel writes.  Every manifest of
the store (the active one and its ingredients') is read for the signals of the C2PA Asset Rubrics
1.0 (:data:`INCEPTION_SIGNALS`: ``inception:signal_fullyGenAIMedia`` for ``c2pa.created`` with
``trainedAlgorithmicMedia``, ``transformation:signal_perceptibleGenAI`` for an edit with an AI type,
...) and for the C2PA 2.4 ``c2pa.ai-disclosure`` assertion: an image that only carries its AI origin
in the manifest of the picture it was opened from is still traced.
Trust anchors come from :class:`ReadOptions` (``verify --trust-anchors``) or a profile's
``trust_anchors`` rule option.  Nothing is fetched over the network unless ``allow_network`` is set:
remote manifests and OCSP revocation checks stay off.

Signing (:func:`sign_last`) is called by :func:`aigclabel.marking.mark_file` after the metadata
step, on the output that is not yet in place, and nothing is written after it: any later metadata
write would break the manifest's hard binding.  The same call refuses a metadata write into a file
that already carries a manifest.  The manifest's first action is ``c2pa.created`` with the
profile's AI ``digitalSourceType``; a ``c2pa.ai-disclosure`` assertion (C2PA 2.4) says a generative
model made the content (``modelType`` ``c2pa.types.model``, ``modelName`` the system name when
given); an ``org.aigclabel.aigc`` assertion carries the AIGC record's
exact JSON text as ``{"record": "<json>", "schema": "gb45438-2025"}`` (deliberately not under a key
named AIGC, so the file still holds exactly one AIGC-keyed record).  Thumbnails are off unless asked
for.  Before the signed file replaces anything, it is read back twice -- by the format handler (the
implicit record must have survived) and by the C2PA SDK (the manifest must validate) -- so a failure
writes nothing.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, cast

from ._c2pa_scan import REMOTE_REF_INFO, STORE_INFO, find_manifest_store, find_manifest_store_bounded
from ._io import CountingReader
from .errors import ProfileError, SigningError, UnsupportedOperation
from .report import Trace

if TYPE_CHECKING:  # pragma: no cover
    from .formats import Evidence, FormatHandler, ImplicitLabel
    from .profiles import Profile

__all__ = ["available", "sdk_version", "INSTALL_HINT", "ASSERTION_LABEL", "AI_DISCLOSURE_LABEL", "AI_SOURCE_TYPES",
           "INCEPTION_SIGNALS", "GENAI_SIGNALS", "POSSIBLY_GENAI_SIGNALS", "SigningError", "C2paOptions",
           "ReadOptions", "ManifestInfo", "read_manifest", "merge_evidence", "sign_last", "signable", "readable",
           "mime_for", "find_manifest_store", "load_anchors", "c2pa_status", "sign_derivative"]

INSTALL_HINT = "pip install 'aigclabel[c2pa]'"
#: label of the assertion that carries the AIGC record (reverse-domain, as C2PA asks of custom labels)
ASSERTION_LABEL = "org.aigclabel.aigc"
TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
COMPOSITE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
AI_SOURCE_TYPES = (TRAINED, COMPOSITE)
#: the C2PA 2.4 assertion that discloses the AI model behind the content
AI_DISCLOSURE_LABEL = "c2pa.ai-disclosure"
UNTRUSTED = "signingCredential.untrusted"

# The signals of the C2PA Asset Rubrics 1.0 (local signals rubric), evaluated on each manifest of the
# store.  Their names are the rubric's, so a report says what other C2PA validators say.
_IPTC_DST = ("http://cv.iptc.org/newscodes/digitalsourcetype/", "https://cv.iptc.org/newscodes/digitalsourcetype/")
#: a ``c2pa.created`` action's digitalSourceType (IPTC short name, or the C2PA URI) -> inception signal
INCEPTION_SIGNALS = {
    "trainedAlgorithmicMedia": "inception:signal_fullyGenAIMedia",
    "compositeWithTrainedAlgorithmicMedia": "inception:signal_partlyGenAICreation",
    "composite": "inception:signal_compositionMayContainGenAI",
    "screenCapture": "inception:signal_screenCaptureMayContainGenAI",
    "digitalCapture": "inception:signal_capturedMedia",
    "computationalCapture": "inception:signal_capturedMedia",
    "compositeCapture": "inception:signal_capturedMediaStitched",
    "digitalCreation": "inception:signal_nonGenAIDigitalCreation",
    "http://c2pa.org/digitalsourcetype/empty": "inception:signal_blankCanvas",
}
#: digitalSourceTypes the rubric counts as generative AI on any other action (opened, edited, ...)
_GENAI_TYPES = {"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia", "compositeSynthetic",
                "trainedAlgorithmicData"}
#: ... and the ambiguous ones ("may contain")
_AMBIGUOUS_TYPES = {"digitalArt", "composite"}
#: signals that say generative AI made or changed the content
GENAI_SIGNALS = ("inception:signal_fullyGenAIMedia", "inception:signal_partlyGenAICreation",
                 "transformation:signal_perceptibleGenAI")
#: signals that say it may have
POSSIBLY_GENAI_SIGNALS = ("inception:signal_compositionMayContainGenAI",
                          "inception:signal_screenCaptureMayContainGenAI",
                          "transformation:signal_perceptiblePossiblyGenAI")
_SIGNAL_MEANING = {
    "inception:signal_fullyGenAIMedia": "generated entirely by generative AI",
    "inception:signal_partlyGenAICreation": "a creation that partly contains generative AI content",
    "inception:signal_compositionMayContainGenAI": "a composition that may contain generative AI content",
    "inception:signal_screenCaptureMayContainGenAI": "a screen capture that may contain generative AI content",
    "inception:signal_capturedMedia": "captured by a device",
    "inception:signal_capturedMediaStitched": "stitched from several captures",
    "inception:signal_nonGenAIDigitalCreation": "a digital creation without generative AI",
    "inception:signal_blankCanvas": "started from an empty canvas",
    "inception:signal_mediaUnknownProvenance": "made with an ingredient of unknown provenance (no manifest)",
    "transformation:signal_perceptibleGenAI": "a perceptible change made with generative AI",
    "transformation:signal_perceptiblePossiblyGenAI": "a perceptible change that may have used generative AI",
    "transformation:signal_perceptibleNonGenAI": "a perceptible change without generative AI",
}

# handler name -> the MIME type the SDK knows the format by (others: the handler's own ``mime``)
_MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif", "tiff": "image/tiff",
         "heif": "image/heif", "mp4": "video/mp4", "m4a": "audio/mp4", "mp3": "audio/mpeg", "wav": "audio/wav",
         "flac": "audio/flac", "pdf": "application/pdf", "ogg": "audio/ogg", "opus": "audio/ogg",
         "aiff": "audio/aiff", "avi": "video/x-msvideo"}
_AVIF_BRANDS = {"avif", "avis"}
_HEIC_BRANDS = {"heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs"}

#: what was seen to go wrong when the SDK signs these formats (explains a failed read-back)
_KNOWN_DAMAGE: dict[str, str] = {}


# ------------------------------------------------------------------------------------------ the SDK


def _sdk() -> Any:
    import c2pa  # noqa: PLC0415 - optional dependency, imported on use

    return c2pa


def available() -> bool:
    """True when c2pa-python can be imported."""
    try:
        _sdk()
    except Exception:  # noqa: BLE001 - ImportError, or a native library that fails to load
        return False
    return True


def _require(what: str) -> Any:
    try:
        return _sdk()
    except Exception as exc:  # noqa: BLE001
        raise SigningError(f"{what} needs c2pa-python, which is not installed or does not load "
                           f"({exc.__class__.__name__}: {exc}); install it with: {INSTALL_HINT}") from None


def sdk_version() -> str | None:
    """The c2pa-rs version inside c2pa-python, or None when it is not installed."""
    try:
        return str(_sdk().sdk_version())
    except Exception:  # noqa: BLE001
        return None


def mime_for(handler_name: str, info: dict[str, Any] | None = None, default: str | None = None) -> str | None:
    """The MIME type the SDK knows a format by, refined by what the handler read (HEIF brand, QuickTime)."""
    info = info or {}
    if handler_name == "heif":
        brand = str(info.get("brand", ""))
        if brand in _AVIF_BRANDS:
            return "image/avif"
        if brand in _HEIC_BRANDS:
            return "image/heic"
    if handler_name == "mp4" and info.get("container") == "quicktime":
        return "video/quicktime"
    return _MIME.get(handler_name, default)


def _supported(mime: str | None, *, signing: bool) -> bool:
    if mime is None:
        return False
    sdk = _sdk()
    kinds = sdk.Builder.get_supported_mime_types() if signing else sdk.Reader.get_supported_mime_types()
    return mime in kinds


def signable(handler_name: str, info: dict[str, Any] | None = None) -> bool:
    """True when the installed SDK can embed a manifest in this format."""
    return available() and _supported(mime_for(handler_name, info), signing=True)


def readable(handler_name: str, info: dict[str, Any] | None = None) -> bool:
    """True when the installed SDK can read a manifest from this format."""
    return available() and _supported(mime_for(handler_name, info), signing=False)


def _settings(anchors: str | None, *, allow_network: bool, thumbnail: bool = False,
              validate: bool = True, check_after_sign: bool = True) -> dict[str, Any]:
    """SDK settings: our trust anchors, no remote manifests or OCSP unless allowed, thumbnails as asked.

    *check_after_sign* False turns off the Builder's own check of the store it just made (claim, signature,
    assertion hashes, not the asset's hash): :func:`_check_signed` validates all of that and the hard binding
    on the bytes as written, so the Builder's check would only repeat part of it.
    """
    settings: dict[str, Any] = {
        "version": 1,
        "verify": {"verify_after_reading": validate, "verify_after_sign": check_after_sign, "verify_trust": True,
                   "remote_manifest_fetch": allow_network, "ocsp_fetch": allow_network},
        "builder": {"thumbnail": {"enabled": thumbnail}},
    }
    if anchors:
        settings["trust"] = {"user_anchors": anchors}
    return settings


# ------------------------------------------------------------------------------------ PEM material


def _pem_text(value: str | os.PathLike | bytes, what: str) -> str:
    """PEM text from a path, or from the PEM itself (bytes, or a str that starts with '-----BEGIN')."""
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value).decode("ascii", "replace")
    elif isinstance(value, str) and value.lstrip().startswith("-----BEGIN"):
        text = value
    else:
        path = os.fspath(value)
        try:
            with open(path, "rb") as fh:
                text = fh.read().decode("ascii", "replace")
        except FileNotFoundError:
            raise SigningError(f"{path}: {what} file not found") from None
        except OSError as exc:
            raise SigningError(f"{path}: cannot read the {what} ({exc.strerror})") from None
    if "-----BEGIN" not in text:
        raise SigningError(f"the {what} is not PEM (no '-----BEGIN' line)")
    return text


def load_anchors(value: str | os.PathLike | bytes, what: str = "trust anchors") -> str:
    """PEM text of trust-anchor certificates (a path, or the PEM); :class:`SigningError` if none is readable."""
    from cryptography import x509

    text = _pem_text(value, what)
    try:
        certs = x509.load_pem_x509_certificates(text.encode("ascii", "replace"))
    except ValueError as exc:
        raise SigningError(f"{what}: no readable PEM certificate ({exc})") from None
    if not certs:
        raise SigningError(f"{what}: no PEM certificate")
    from cryptography.hazmat.primitives.serialization import Encoding

    return "".join(c.public_bytes(Encoding.PEM).decode("ascii") for c in certs)


@dataclass
class _Credentials:
    """A C2PA signer's certificate chain, private key and algorithm, as the SDK takes them."""
    chain_pem: bytes
    key_pem: bytes
    alg: str  # the SDK's name: es256, es384, es512, ps256, ed25519
    signer: str  # RFC 4514 subject of the signing certificate


def _algorithm(key: Any, hint: str | None) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if isinstance(key, ec.EllipticCurvePrivateKey):
        alg = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}.get(key.curve.name)
        if alg is None:
            raise SigningError(f"EC curve {key.curve.name} is not allowed by C2PA (use P-256, P-384 or P-521)")
    elif isinstance(key, rsa.RSAPrivateKey):
        alg = "ps256"
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        alg = "ed25519"
    else:
        raise SigningError(f"{type(key).__name__} keys cannot sign C2PA manifests (use EC P-256, RSA-PSS or Ed25519)")
    if hint:
        hint = hint.lower()
        allowed = {"es256", "es384", "es512"} if alg.startswith("es") else (
            {"ps256", "ps384", "ps512"} if alg == "ps256" else {"ed25519"})
        if hint not in allowed:
            raise SigningError(f"signing algorithm {hint} does not fit the key ({alg} family)")
        alg = hint
    return alg


@dataclass
class C2paOptions:
    """How :func:`sign_last` signs: the credentials, an optional time-stamp authority, and what to claim.

    *sign_cert* is the certificate chain (signer first, then intermediates, no root) and *sign_key*
    its private key, each a path or the PEM itself.  *tsa_url* asks an RFC 3161 time-stamp authority
    to time-stamp the signature (a network request, made only when given).  *system_name* and
    *system_version* name the generative AI system in the ``c2pa.created`` action's
    ``softwareAgent`` (what California's SB 942 asks a latent disclosure to carry).  *trust_anchors*
    only affects the state reported after signing (``Trusted`` rather than ``Valid``).
    """

    sign_cert: str | os.PathLike | bytes
    sign_key: str | os.PathLike | bytes
    tsa_url: str | None = None
    alg: str | None = None  # default: from the key (EC P-256 -> es256, ...)
    thumbnail: bool = False
    system_name: str | None = None
    system_version: str | None = None
    title: str | None = None
    trust_anchors: str | os.PathLike | bytes | None = None

    def check(self) -> _Credentials:
        """Load and check the credentials (before any file is touched); :class:`SigningError` if unusable."""
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        if self.tsa_url is not None and not re.match(r"^https?://[^\s/]+", self.tsa_url):
            raise SigningError(f"time-stamp authority URL {self.tsa_url!r} is not an http(s) URL")
        chain_text = _pem_text(self.sign_cert, "signing certificate chain")
        key_text = _pem_text(self.sign_key, "signing key")
        try:
            certs = x509.load_pem_x509_certificates(chain_text.encode("ascii", "replace"))
        except ValueError as exc:
            raise SigningError(f"the signing certificate chain is not readable PEM ({exc})") from None
        try:
            key = serialization.load_pem_private_key(key_text.encode("ascii", "replace"), password=None)
        except TypeError:
            raise SigningError("the signing key is encrypted; give an unencrypted PKCS#8 PEM key") from None
        except ValueError as exc:
            raise SigningError(f"the signing key is not a readable PEM private key ({exc})") from None
        leaf = certs[0]
        pub = serialization.PublicFormat.SubjectPublicKeyInfo
        if (leaf.public_key().public_bytes(serialization.Encoding.DER, pub)
                != key.public_key().public_bytes(serialization.Encoding.DER, pub)):
            raise SigningError("the signing key does not belong to the first certificate of the chain "
                               "(the chain must start with the signer's certificate)")
        now = datetime.now(timezone.utc)
        if leaf.not_valid_after_utc < now:
            raise SigningError(f"the signing certificate expired on {leaf.not_valid_after_utc:%Y-%m-%d}")
        return _Credentials(chain_pem=chain_text.encode("ascii"), key_pem=key_text.encode("ascii"),
                            alg=_algorithm(key, self.alg), signer=leaf.subject.rfc4514_string())


@dataclass
class ReadOptions:
    """How manifests are validated: extra trust anchors (a PEM file or text) and network access."""

    trust_anchors: str | os.PathLike | bytes | None = None
    #: allow fetching remote manifests and OCSP revocation status; off by default
    allow_network: bool = False


# ------------------------------------------------------------------------------------------ reading


@dataclass
class ManifestInfo:
    """What the active manifest of a file says, and whether it validates."""

    state: str  # "Trusted" | "Valid" | "Invalid" (the SDK's validation state)
    failures: list[dict[str, str]] = field(default_factory=list)  # code, explanation, url
    informational: list[dict[str, str]] = field(default_factory=list)
    label: str | None = None  # urn:c2pa:...
    instance_id: str | None = None
    title: str | None = None
    claim_generator: str | None = None
    signer: dict[str, str] = field(default_factory=dict)  # issuer (organisation), common_name, alg, time
    actions: list[dict[str, Any]] = field(default_factory=list)
    aigc_record: str | None = None  # the JSON text of our AIGC assertion
    aigc_schema: str | None = None
    embedded: bool = True
    remote_url: str | None = None
    manifests: int = 1  # manifests in the store (1 + ingredients' manifests)
    #: failures the SDK reports for the active manifest's ingredients (code, explanation, url, ingredient)
    ingredient_failures: list[dict[str, str]] = field(default_factory=list)
    #: the active manifest's ingredients: title, relationship, manifest (label, "" without one), failures
    #: (the codes recorded when the ingredient was added)
    ingredients: list[dict[str, Any]] = field(default_factory=list)
    #: Asset Rubrics signals of every manifest: signal, manifest, role (active/ingredient), title, action, type
    signals: list[dict[str, str]] = field(default_factory=list)
    #: c2pa.ai-disclosure assertions of every manifest: manifest, role, title, data
    ai_disclosures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failure_codes(self) -> list[str]:
        return [f.get("code", "?") for f in self.failures]

    @property
    def trusted(self) -> bool:
        return self.state == "Trusted"

    @property
    def intact(self) -> bool:
        """Signature and bindings hold (Trusted or Valid), whoever signed."""
        return self.state in ("Trusted", "Valid")

    @property
    def untrusted(self) -> bool:
        return UNTRUSTED in self.failure_codes

    @property
    def genai_signals(self) -> list[dict[str, str]]:
        """The signals that say generative AI made or changed the content, in any manifest of the store."""
        return [s for s in self.signals if s.get("signal") in GENAI_SIGNALS]

    def real_failures(self) -> list[str]:
        """Why an Invalid manifest is Invalid: the codes other than signingCredential.untrusted.

        The SDK often lists only ``signingCredential.untrusted`` under the active manifest when what
        broke is an ingredient's manifest (``ingredient.manifest.mismatch``, ...): those come from the
        ingredient deltas, named with the ingredient.
        """
        out = [c for c in self.failure_codes if c != UNTRUSTED]
        by_ingredient: dict[str, list[str]] = {}
        for f in self.ingredient_failures:
            if f.get("code") and f.get("code") != UNTRUSTED:
                by_ingredient.setdefault(f.get("ingredient") or "?", []).append(f["code"])
        out += [f"ingredient {name!r}: {', '.join(dict.fromkeys(codes))}" for name, codes in by_ingredient.items()]
        return out

    def ingredient_notes(self) -> list[str]:
        """Ingredients whose manifest already failed validation when they were added (the SDK records it)."""
        notes = []
        for ing in self.ingredients:
            codes = [c for c in ing.get("failures") or [] if c != UNTRUSTED]
            if codes:
                notes.append(f"ingredient {ing.get('title') or '?'!r} failed validation when it was added "
                             f"({', '.join(codes)})")
        return notes

    @property
    def first_action(self) -> dict[str, Any] | None:
        return self.actions[0] if self.actions else None

    @property
    def digital_source_type(self) -> str | None:
        """The digitalSourceType of the first action when it is c2pa.created."""
        first = self.first_action
        if first is None or first.get("action") != "c2pa.created":
            return None
        value = first.get("digitalSourceType")
        return str(value) if value is not None else None

    @property
    def signed_by(self) -> str:
        """The signing certificate's subject as the SDK reports it (``issuer`` is its organisation)."""
        parts = [f"{tag}={self.signer[key]}" for tag, key in (("CN", "common_name"), ("O", "issuer"))
                 if self.signer.get(key)]
        return ", ".join(parts) or "unknown signer"

    def state_text(self) -> str:
        if self.state == "Valid" and self.untrusted:
            return "Valid (signature and bindings intact; signer not on a trust list: signingCredential.untrusted)"
        if self.state == "Invalid":
            codes = self.real_failures() or self.failure_codes or ["the SDK named no failure code"]
            return f"Invalid ({'; '.join(codes)})"
        return self.state

    def describe(self) -> str:
        """One line for a trace: state, signer, first action, AIGC assertion."""
        first = self.first_action
        what = "no actions"
        if first is not None:
            what = str(first.get("action"))
            if first.get("digitalSourceType"):
                what += f" ({str(first['digitalSourceType']).rsplit('/', 1)[-1]})"
            agent = _agent_text(first.get("softwareAgent"))
            if agent:
                what += f" by {agent}"
        actions = ", ".join(str(a.get("action")) for a in self.actions) or "none"
        text = f"{self.state_text()}; signed by {self.signed_by}; first action {what}; actions: {actions}"
        if self.signer.get("time"):
            text += f"; time-stamped {self.signer['time']}"
        if self.ingredients:
            text += "; ingredients: " + ", ".join(
                f"{ing.get('title') or '?'} ({ing.get('relationship') or '?'}"
                f"{'' if ing.get('manifest') else ', no manifest'})" for ing in self.ingredients)
        for note in self.ingredient_notes():
            text += f"; {note}"
        for disclosure in self.ai_disclosures:
            if disclosure.get("role") == "active":
                text += f"; {AI_DISCLOSURE_LABEL} {_disclosure_text(disclosure.get('data'))}"
        if self.aigc_record is not None:
            text += f"; AIGC assertion {self.aigc_record}"
        return text

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ManifestInfo:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "failures": self.failures, "informational": self.informational,
                "label": self.label, "instance_id": self.instance_id, "title": self.title,
                "claim_generator": self.claim_generator, "signer": self.signer, "actions": self.actions,
                "digital_source_type": self.digital_source_type, "aigc_record": self.aigc_record,
                "aigc_schema": self.aigc_schema, "embedded": self.embedded, "remote_url": self.remote_url,
                "manifests": self.manifests, "ingredient_failures": self.ingredient_failures,
                "ingredients": self.ingredients, "signals": self.signals, "ai_disclosures": self.ai_disclosures}


def _agent_text(agent: Any) -> str:
    if isinstance(agent, dict):
        return " ".join(str(agent[k]) for k in ("name", "version") if agent.get(k))
    return str(agent) if agent else ""


def _disclosure_text(data: Any) -> str:
    """One line for a c2pa.ai-disclosure assertion: its model type, name, identifier and oversight level."""
    if not isinstance(data, dict):
        return "(not a map)"
    parts = [f"{key} {data[key]}" for key in ("modelType", "modelName", "modelIdentifier")
             if isinstance(data.get(key), (str, int, float))]
    profile = data.get("contentProfile")
    if isinstance(profile, dict) and isinstance(profile.get("humanOversightLevel"), str):
        parts.append(f"humanOversightLevel {profile['humanOversightLevel']}")
    return ", ".join(parts) or "(no model named)"


def _dst_name(uri: Any) -> str:
    """The IPTC short name of a digitalSourceType URI (``trainedAlgorithmicMedia``); other URIs as they are."""
    text = str(uri)
    return text.rsplit("/", 1)[-1] if text.startswith(_IPTC_DST) else text


def _action_signal(action: dict[str, Any]) -> str | None:
    """The Asset Rubrics signal of one action, from its name and digitalSourceType (None: no signal)."""
    dst = action.get("digitalSourceType")
    if not dst:
        return None
    name = _dst_name(dst)
    if action.get("action") == "c2pa.created":
        return INCEPTION_SIGNALS.get(name) or INCEPTION_SIGNALS.get(str(dst))
    if name in _GENAI_TYPES:
        return "transformation:signal_perceptibleGenAI"
    if name in _AMBIGUOUS_TYPES:
        return "transformation:signal_perceptiblePossiblyGenAI"
    return "transformation:signal_perceptibleNonGenAI"


def signal_meaning(signal: str) -> str:
    return _SIGNAL_MEANING.get(signal, "")


def _walk_store(store: dict[str, Any], active_label: str) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """The Asset Rubrics signals and the c2pa.ai-disclosure assertions of every manifest in the store.

    The rubric evaluates each manifest of the provenance graph on its own ("locally"): an AI image
    opened and re-signed by an editor keeps ``inception:signal_fullyGenAIMedia`` in its ingredient's
    manifest, though the active manifest only says ``c2pa.opened``.
    """
    manifests = store.get("manifests") or {}
    if not isinstance(manifests, dict):
        return [], []
    titles: dict[str, str] = {}  # manifest label -> title of the ingredient that brought it in
    for m in manifests.values():
        for ing in (m.get("ingredients") or []) if isinstance(m, dict) else []:
            if isinstance(ing, dict) and ing.get("active_manifest"):
                titles.setdefault(str(ing["active_manifest"]), str(ing.get("title") or ""))
    order = sorted(manifests, key=lambda label: label != active_label)  # the active manifest first
    signals: list[dict[str, str]] = []
    disclosures: list[dict[str, Any]] = []
    for label in order:
        m = manifests[label]
        if not isinstance(m, dict):
            continue
        role = "active" if label == active_label else "ingredient"
        base = {"manifest": str(label), "role": role, "title": titles.get(label, "")}
        for assertion in m.get("assertions") or []:
            if not isinstance(assertion, dict):
                continue
            name = str(assertion.get("label", ""))
            data = assertion.get("data")
            if re.fullmatch(r"c2pa\.actions(\.v\d+)?", name) and isinstance(data, dict):
                for action in data.get("actions") or []:
                    if isinstance(action, dict) and (signal := _action_signal(action)):
                        signals.append({**base, "signal": signal, "action": str(action.get("action")),
                                        "digitalSourceType": str(action.get("digitalSourceType")),
                                        "assertion": name})
            elif re.fullmatch(r"c2pa\.ai-disclosure(\.v\d+)?", name):
                disclosures.append({**base, "assertion": name, "data": data})
        for ing in m.get("ingredients") or []:
            if isinstance(ing, dict) and not ing.get("active_manifest"):
                signals.append({**base, "signal": "inception:signal_mediaUnknownProvenance", "action": "",
                                "digitalSourceType": "", "assertion": str(ing.get("label") or "c2pa.ingredient"),
                                "ingredient": str(ing.get("title") or "")})
    unique = {tuple(sorted(s.items())): s for s in signals}
    return list(unique.values()), disclosures


def _ingredients(active: dict[str, Any], results: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The active manifest's ingredients, and the failures the SDK reports for them (named by title)."""
    ingredients: list[dict[str, Any]] = []
    by_label: dict[str, str] = {}
    for ing in active.get("ingredients") or []:
        if not isinstance(ing, dict):
            continue
        recorded = ((ing.get("validation_results") or {}).get("activeManifest") or {}).get("failure") or []
        title = str(ing.get("title") or ing.get("label") or "?")
        ingredients.append({"title": title, "relationship": str(ing.get("relationship") or ""),
                            "manifest": str(ing.get("active_manifest") or ""),
                            "failures": [str(f.get("code")) for f in recorded if isinstance(f, dict)]})
        if ing.get("label"):
            by_label[str(ing["label"])] = title
    failures: list[dict[str, str]] = []
    for delta in results.get("ingredientDeltas") or []:
        if not isinstance(delta, dict):
            continue
        uri = str(delta.get("ingredientAssertionURI") or "")
        title = next((t for lab, t in by_label.items() if uri.endswith("/" + lab)), uri.rsplit("/", 1)[-1] or "?")
        for f in (delta.get("validationDeltas") or {}).get("failure") or []:
            if isinstance(f, dict):
                failures.append({**{k: str(v) for k, v in f.items()}, "ingredient": title})
    return ingredients, failures


class _Stream:
    """A read-only adapter: the SDK wants read/write/seek/tell/flush; reads are counted by the source."""

    def __init__(self, src: CountingReader | BinaryIO) -> None:
        self._src = src

    def read(self, n: int = -1) -> bytes:
        return self._src.read(n)

    def readinto(self, buf: Any) -> int:
        # The SDK asks for readinto first: from a plain file the bytes land in its buffer with no bytes object
        # between; a CountingReader has none, so its reads still go through read() and are counted.
        direct = getattr(self._src, "readinto", None)
        if direct is not None:
            return int(direct(buf))
        data = self._src.read(len(buf))
        buf[:len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._src.seek(offset, whence)

    def tell(self) -> int:
        return self._src.tell()

    def write(self, data: bytes) -> int:  # pragma: no cover - the SDK never writes to a reader's stream
        raise io.UnsupportedOperation("read-only")

    def flush(self) -> None:
        pass


def _parse(reader: Any) -> ManifestInfo:
    import json

    store = json.loads(reader.json())
    active = store.get("manifests", {}).get(store.get("active_manifest", ""), {}) or {}
    results = store.get("validation_results") or {}
    current = results.get("activeManifest") or {}
    failures = current.get("failure")
    if failures is None:  # older SDKs: a flat validation_status list
        failures = [s for s in store.get("validation_status") or [] if isinstance(s, dict)]
    actions: list[dict[str, Any]] = []
    record = schema = None
    for assertion in active.get("assertions") or []:
        label = str(assertion.get("label", ""))
        data = assertion.get("data") or {}
        if re.fullmatch(r"c2pa\.actions(\.v\d+)?", label) and not actions:
            actions = [a for a in data.get("actions") or [] if isinstance(a, dict)]
        elif label == ASSERTION_LABEL and isinstance(data, dict):
            record = data.get("record") if isinstance(data.get("record"), str) else None
            schema = data.get("schema") if isinstance(data.get("schema"), str) else None
    ingredients, ingredient_failures = _ingredients(active, results)
    signals, disclosures = _walk_store(store, str(store.get("active_manifest", "")))
    gen = active.get("claim_generator")
    infos = active.get("claim_generator_info") or []
    if not gen and infos:
        gen = _agent_text(infos[0])
    signer = {k: str(v) for k, v in (active.get("signature_info") or {}).items() if v is not None}
    embedded = True
    remote = None
    with contextlib.suppress(Exception):
        embedded = bool(reader.is_embedded())
        remote = reader.get_remote_url()
    return ManifestInfo(state=str(store.get("validation_state") or reader.get_validation_state() or "Invalid"),
                        failures=[{k: str(v) for k, v in f.items()} for f in failures],
                        informational=[{k: str(v) for k, v in f.items()} for f in current.get("informational") or []],
                        label=active.get("label"), instance_id=active.get("instance_id"), title=active.get("title"),
                        claim_generator=gen, signer=signer, actions=actions, aigc_record=record,
                        aigc_schema=schema, embedded=embedded, remote_url=remote,
                        manifests=len(store.get("manifests") or {}) or 1, ingredient_failures=ingredient_failures,
                        ingredients=ingredients, signals=signals, ai_disclosures=disclosures)


def read_manifest(source: CountingReader | BinaryIO | bytes, mime: str | None,
                  options: ReadOptions | None = None, *, extra_anchors: str | None = None) -> ManifestInfo | None:
    """Read and validate the active manifest of *source*; None when it carries none.

    *mime* names the format (``None``: let the SDK detect it).  Raises :class:`SigningError` when
    c2pa-python is missing, and the SDK's own ``C2paError`` subclasses when the manifest store
    cannot be read (``NotSupported`` for a format the SDK does not know).
    """
    sdk = _require("reading C2PA manifests")
    options = options or ReadOptions()
    anchors = "\n".join(a for a in (load_anchors(options.trust_anchors) if options.trust_anchors else None,
                                    extra_anchors) if a)
    if isinstance(source, (bytes, bytearray, memoryview)):
        stream: Any = io.BytesIO(bytes(source))
    else:
        stream = _Stream(source)
    stream.seek(0)
    with sdk.Context.from_dict(_settings(anchors or None, allow_network=options.allow_network)) as ctx:
        reader = sdk.Reader.try_create(mime, stream, None, ctx)
        if reader is None:
            return None
        with reader:
            return _parse(reader)


# ----------------------------------------------------------------------------- the verifier's hook


def profile_anchors(profile: Profile) -> str | None:
    """PEM text of the ``trust_anchors`` files the profile's rules name (paths relative to the profile)."""
    texts: list[str] = []
    for cfg in profile.enabled_rules():
        value = cfg.options.get("trust_anchors")
        if not isinstance(value, str) or not value:
            continue
        path = os.path.expanduser(value)
        if not os.path.isabs(path) and profile.path is not None:
            path = os.path.join(os.path.dirname(os.fspath(profile.path)), path)
        try:
            texts.append(load_anchors(path, f"trust anchors of rules.{cfg.id}.trust_anchors"))
        except SigningError as exc:
            raise ProfileError(f"{profile.path}: rules.{cfg.id}.trust_anchors: {exc}") from None
    return "\n".join(texts) or None


def merge_evidence(evidence: Evidence, src: CountingReader, *, profile: Profile | None = None,
                   options: ReadOptions | None = None, scope: str = "all",
                   handler: FormatHandler | None = None) -> None:
    """Add what the file's C2PA manifest says to *evidence* (``info["c2pa"]`` and a ``c2pa-manifest`` trace).

    With a *profile*, the manifest is read only when one of its rules needs it (verifying against
    the Chinese profiles never reads the whole file to hash it).  ``info["c2pa"]["status"]`` is
    ``present``, ``absent``, ``not-installed``, ``unsupported-format``, ``remote`` or ``error``.  With the
    *handler* that read the evidence, a format whose read notes every store and reference
    (``c2pa_manifest_read``) and found none is ``absent`` without asking the SDK.
    """
    from .rules import uses_c2pa

    if profile is not None and (scope == "explicit" or not uses_c2pa(profile)):
        return
    if handler is not None and handler.c2pa_manifest_read and STORE_INFO not in evidence.info \
            and REMOTE_REF_INFO not in evidence.info:
        evidence.info["c2pa"] = {"status": "absent", "message": "no C2PA manifest (the file holds no manifest "
                                                                "store and no reference to a remote one)"}
        return
    evidence.info["c2pa"] = _collect(evidence, src, profile, options)
    found = c2pa_status(evidence)
    if found["status"] == "present":
        manifest = found["manifest"]
        where = f"C2PA manifest store, active manifest {manifest.label or '?'}"
        evidence.traces.append(Trace("c2pa-manifest", manifest.describe(), where))
        if manifest.digital_source_type:
            evidence.traces.append(Trace("c2pa-digital-source-type", manifest.digital_source_type,
                                         f"{where}, c2pa.created action"))
        evidence.traces += signal_traces(manifest)
    elif found["status"] in ("error", "remote"):
        evidence.traces.append(Trace("c2pa-manifest", found["message"], "C2PA manifest store"))


def _manifest_where(item: dict[str, Any]) -> str:
    if item.get("role") == "active":
        return f"C2PA manifest store, active manifest {item.get('manifest')}"
    title = f" (ingredient {item['title']!r})" if item.get("title") else ""
    return f"C2PA manifest store, ingredient manifest {item.get('manifest')}{title}"


def signal_traces(manifest: ManifestInfo) -> list[Trace]:
    """``c2pa-signal`` traces (one per Asset Rubrics signal) and ``c2pa-ai-disclosure`` traces.

    A signal trace's detail starts with the signal's name, which is what the platform review reads.
    """
    traces = []
    for s in manifest.signals:
        signal = s.get("signal", "")
        if s.get("action"):
            how = f"{s['action']} with digitalSourceType {_dst_name(s.get('digitalSourceType'))}"
            where = f"{_manifest_where(s)}, {s.get('assertion')}"
        else:
            how = f"ingredient {s.get('ingredient') or '?'!r} has no manifest"
            where = _manifest_where(s)
        traces.append(Trace("c2pa-signal", f"{signal} (C2PA Asset Rubrics 1.0): {how}: {signal_meaning(signal)}",
                            where))
    for d in manifest.ai_disclosures:
        traces.append(Trace("c2pa-ai-disclosure", f"{AI_DISCLOSURE_LABEL} (C2PA 2.4): an AI model made the content: "
                            f"{_disclosure_text(d.get('data'))}", f"{_manifest_where(d)}, {d.get('assertion')}"))
    return traces


def _collect(evidence: Evidence, src: CountingReader, profile: Profile | None,
             options: ReadOptions | None) -> dict[str, Any]:
    if not available():
        return {"status": "not-installed",
                "message": f"C2PA manifests were not read: install the C2PA extra: {INSTALL_HINT}"}
    sdk = _sdk()
    mime = mime_for(evidence.format, evidence.info)
    if not _supported(mime, signing=False):
        return {"status": "unsupported-format",
                "message": f"{evidence.format.upper()} cannot carry a C2PA manifest: the C2PA SDK "
                           f"(c2pa-rs {sdk_version()}) does not support the format"}
    extra = profile_anchors(profile) if profile is not None else None
    try:
        manifest = read_manifest(src, mime, options, extra_anchors=extra)
    except SigningError as exc:  # an unreadable trust-anchors file: a usage error, like a bad profile
        raise ProfileError(f"C2PA trust anchors: {exc}") from None
    except sdk.C2paError.RemoteManifest as exc:
        return {"status": "remote", "message": f"the manifest is remote and was not fetched ({exc}); "
                                               "allow network access to validate it"}
    except sdk.C2paError.NotSupported as exc:
        return {"status": "unsupported-format", "message": f"the C2PA SDK cannot read this file ({exc})"}
    except sdk.C2paError as exc:
        if str(exc).startswith("Remote"):  # c2pa-python 0.38 raises the base class, "Remote: must fetch ..."
            return {"status": "remote", "message": f"the manifest is remote and was not fetched ({exc}); "
                                                   "allow network access to validate it"}
        return {"status": "error", "message": f"a C2PA manifest store is present but could not be read ({exc})"}
    if manifest is None:
        return {"status": "absent", "message": "no C2PA manifest"}
    return {"status": "present", "message": manifest.describe(), "manifest": manifest.to_dict()}


def c2pa_status(evidence: Evidence) -> dict[str, Any]:
    """What :func:`merge_evidence` found, with ``manifest`` as a :class:`ManifestInfo`.

    ``status`` is ``not-read`` when the hook did not run (e.g. evidence checked directly).
    """
    found = dict(evidence.info.get("c2pa") or {"status": "not-read", "message": "the C2PA manifest was not read"})
    if isinstance(found.get("manifest"), dict):
        found["manifest"] = ManifestInfo.from_dict(found["manifest"])
    return found


# ------------------------------------------------------------------------------------------ signing


def _refuse_if_signed(handler: FormatHandler, out: BinaryIO, info: dict[str, Any], at: int) -> None:
    """A file that carries a manifest was just rewritten: its hard binding is broken, so stop here."""
    if available() and _supported(mime_for(handler.name, info), signing=False):
        # A signed picture inside (a PDF image, MP3 cover art) is not the file's own manifest.
        with contextlib.suppress(Exception):
            sdk = _sdk()
            with sdk.Context.from_dict(_settings(None, allow_network=False, validate=False)) as ctx:
                out.seek(0)
                reader = sdk.Reader.try_create(mime_for(handler.name, info), _Stream(out), None, ctx)
                if reader is None:
                    return
                reader.close()
    raise UnsupportedOperation(
        f"this {handler.name.upper()} file carries a C2PA manifest (manifest store at offset {at}); "
        "writing metadata into it now would break the manifest's hard binding, so nothing was written. "
        "Mark the unsigned original, then sign (mark --c2pa): signing is always the last write")


def _manifest(options: C2paOptions, creds: _Credentials, implicit: ImplicitLabel, mime: str,
              schema: str) -> dict[str, Any]:
    from . import __version__

    created: dict[str, Any] = {"action": "c2pa.created",
                               "digitalSourceType": implicit.digital_source_type or TRAINED,
                               "when": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if options.system_name:
        created["softwareAgent"] = {"name": options.system_name}
        if options.system_version:
            created["softwareAgent"]["version"] = options.system_version
    # C2PA 2.4: the model behind the content; the type is the generic "a model", the name the system's
    disclosure: dict[str, Any] = {"modelType": "c2pa.types.model"}
    if options.system_name:
        disclosure["modelName"] = " ".join(filter(None, (options.system_name, options.system_version)))
    manifest: dict[str, Any] = {
        "claim_generator_info": [{"name": "aigclabel", "version": __version__}],
        "format": mime,
        "assertions": [
            {"label": "c2pa.actions.v2", "data": {"actions": [created]}},
            {"label": AI_DISCLOSURE_LABEL, "data": disclosure},
            # The key is not "AIGC": a reader that counts metadata keys containing AIGC must still find
            # exactly one record (GB 45438-2025 Annex E), the one in the file's own metadata.
            {"label": ASSERTION_LABEL, "data": {"record": implicit.record_json, "schema": schema}},
        ],
    }
    if options.title:
        manifest["title"] = options.title
    return manifest


def _schema(record_json: str) -> str:
    from .label import parse_label

    return parse_label(record_json).schema or "unknown"


def sign_last(handler: FormatHandler, out: BinaryIO, options: C2paOptions | None, implicit: ImplicitLabel,
              notes: list[str], written: Evidence | None = None) -> None:
    """The signing step of marking: sign *out* (the metadata step's output, not yet in place) in place.

    Always runs last, and also when *options* is None: then it only refuses an output that carries
    a C2PA manifest (written into after signing).  Raises :class:`SigningError` (nothing is written)
    when the format cannot be signed, the SDK fails, or the signed file does not read back with the
    same AIGC record and a manifest that validates.  *written* is what the handler read in *out*: when
    the handler's read walks every place its format keeps a store (``c2pa_store_read``), its answer is
    used instead of a byte scan of the output.
    """
    if written is not None and handler.c2pa_store_read:
        at = written.info.get(STORE_INFO)
    else:
        at = find_manifest_store_bounded(out)
    if at is None and options is None:
        return
    if written is None:
        end = out.seek(0, os.SEEK_END)
        out.seek(0)
        written = handler.read(CountingReader(out, "<output>", end))
    info = written.info
    if at is not None:
        _refuse_if_signed(handler, out, info, at)
    if options is None:
        return
    _require("C2PA signing")  # before the credentials are read: the missing extra is the clearer error
    mime = _signing_mime(handler, info, "mark without --c2pa to write the AIGC record alone")
    creds = options.check()
    manifest = _manifest(options, creds, implicit, mime, _schema(implicit.record_json))
    state = _sign_into(out, manifest, mime, creds, options,
                       lambda: _check_signed(handler, out, implicit, mime, options))
    created = manifest["assertions"][0]["data"]["actions"][0]
    agent = f" by {_agent_text(created['softwareAgent'])}" if "softwareAgent" in created else ""
    stamp = f", time-stamped by {options.tsa_url}" if options.tsa_url else ""
    notes.append(f"C2PA manifest signed last ({creds.alg}{stamp}) by {creds.signer}: c2pa.created "
                 f"({created['digitalSourceType'].rsplit('/', 1)[-1]}){agent}, {AI_DISCLOSURE_LABEL} "
                 f"({_disclosure_text(manifest['assertions'][1]['data'])}), the AIGC record in "
                 f"{ASSERTION_LABEL}; validation state {state}")


#: up to this size the file to sign is copied into memory as the SDK's input (the SDK holds a whole copy of it in
#: memory anyway, up to its own ``backing_store_memory_threshold_in_mb``, 512 MB); beyond it, into an unnamed
#: temporary file by the kernel, so long media never sit in Python's memory
_INPUT_IN_MEMORY = 64 << 20


def _input_copy(out: BinaryIO) -> BinaryIO:
    """What *out* holds now, as a stream of its own: the SDK's input while it writes the signed file into *out*.

    The SDK reads one stream and writes another, so signing *out* in place needs a copy of one side.  Copying
    the input (a memory read of pages just written) and letting the SDK write straight into *out* costs one
    copy; writing the signed file elsewhere and copying it back costs that copy plus a second write of the
    whole file through Python.
    """
    end = out.seek(0, os.SEEK_END)
    out.seek(0)
    if end <= _INPUT_IN_MEMORY:
        return io.BytesIO(out.read())  # the BytesIO shares the bytes object: one copy, not two
    copy = cast(BinaryIO, tempfile.TemporaryFile(prefix="aigclabel-c2pa-"))
    CountingReader(out, "<output>", end).copy_to(copy)  # the kernel's copy between two files
    copy.seek(0)
    return copy


def _restore(out: BinaryIO, original: BinaryIO) -> None:
    """Put *original* back into *out* (a failed signature leaves the caller's stream as it was)."""
    out.seek(0)
    out.truncate()
    original.seek(0)
    shutil.copyfileobj(original, out, 1 << 20)
    out.flush()


class _Overwrite:
    """The SDK's output stream over *out*: it writes over the unsigned bytes already there, and :attr:`end` says
    how far it wrote (what *out* is truncated to afterwards).

    Writing over pages the file already has measured ~1 ms cheaper on a 12 MP JPEG than truncating first: the
    kernel then frees the old pages and allocates new ones for the same bytes again.
    """

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self.end = 0

    def write(self, data: bytes) -> int:
        n = self._out.write(data)
        self.end = max(self.end, self._out.tell())
        return n

    def read(self, n: int = -1) -> bytes:  # the SDK may read back what it wrote, never past it
        return self._out.read(max(0, min(n if n >= 0 else self.end, self.end - self._out.tell())))

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == os.SEEK_END:  # the end of what was written, not of the old bytes beyond it
            return self._out.seek(self.end + offset)
        return self._out.seek(offset, whence)

    def tell(self) -> int:
        return self._out.tell()

    def flush(self) -> None:
        self._out.flush()


def _sign_into(out: BinaryIO, manifest: dict[str, Any], mime: str, creds: _Credentials, options: C2paOptions,
               check: Callable[[], str], prepare: Callable[[Any], None] | None = None) -> str:
    """Sign *out* in place with *manifest*; *check* reads the signed *out* back and returns its validation state.

    The SDK reads a copy of *out* and writes the signed file straight into *out*; when signing or *check*
    fails, *out* gets its old content back and :class:`SigningError` (or what *check* raised) propagates, so a
    failure never leaves a signed-but-unchecked file behind.  *prepare* gets the Builder before it signs
    (ingredients).
    """
    sdk = _require("C2PA signing")
    # A TSA is the one network request signing makes, and only when a URL was given.
    settings = _settings(None, allow_network=False, thumbnail=options.thumbnail, check_after_sign=False)
    original = _input_copy(out)
    try:
        out.seek(0)
        target = _Overwrite(out)
        try:
            info_struct = sdk.C2paSignerInfo(creds.alg, creds.chain_pem, creds.key_pem, options.tsa_url)
            with sdk.Context.from_dict(settings) as ctx, sdk.Signer.from_info(info_struct) as signer, \
                    sdk.Builder(manifest, context=ctx) as builder:
                if prepare is not None:
                    prepare(builder)
                builder.sign(signer, mime, original, target)
        except sdk.C2paError as exc:
            where = f" (time-stamp authority {options.tsa_url})" if options.tsa_url else ""
            raise SigningError(f"C2PA signing failed{where}: {exc}; nothing was written") from None
        out.truncate(target.end)
        out.flush()
        return check()
    except BaseException:
        _restore(out, original)
        raise
    finally:
        original.close()


def _check_signed(handler: FormatHandler, signed: BinaryIO, implicit: ImplicitLabel, mime: str,
                  options: C2paOptions) -> str:
    """Read the signed file back with the handler and with the SDK; return the validation state."""
    from .errors import AigcLabelError

    end = signed.seek(0, os.SEEK_END)
    signed.seek(0)
    hint = _KNOWN_DAMAGE.get(handler.name, "").format(sdk=sdk_version())
    try:
        found = handler.read(CountingReader(signed, "<signed>", end))
        texts = [lab.raw for lab in found.labels]
    except AigcLabelError as exc:
        texts = [f"<unreadable: {exc}>"]
    if texts != [implicit.record_json]:
        raise SigningError(f"C2PA signing of {handler.name.upper()} damaged the implicit AIGC record (read back: "
                           f"{texts!r}){'; ' + hint if hint else ''}; nothing was written")
    anchors = load_anchors(options.trust_anchors) if options.trust_anchors else None
    manifest = read_manifest(signed, mime, ReadOptions(), extra_anchors=anchors)
    if manifest is None or not manifest.intact:
        state = manifest.state_text() if manifest is not None else "no manifest"
        raise SigningError(f"the signed {handler.name.upper()} does not validate ({state}); nothing was written")
    if manifest.aigc_record != implicit.record_json:
        raise SigningError("the signed manifest does not carry the AIGC record; nothing was written")
    return manifest.state_text()


# ------------------------------------------------------------------- signing a derivative (carry)

#: the label the derivative's manifest gives its parent ingredient (c2pa.opened names it)
PARENT_LABEL = "parent"


def sign_derivative(handler: FormatHandler, out: BinaryIO, options: C2paOptions, implicit: ImplicitLabel,
                    parent: CountingReader | BinaryIO, parent_mime: str, notes: list[str], *,
                    actions: tuple[str, ...] = ("c2pa.transcoded",), parent_title: str | None = None) -> None:
    """Sign *out* (a derivative after the metadata step) with a manifest whose parent ingredient is *parent*.

    The original's manifest cannot move to the derivative (its hard binding covers the original's bytes),
    so the derivative gets a manifest of its own: ``c2pa.opened`` of the original (``parentOf``; the SDK
    embeds the original's manifest store as the ingredient's manifest), then *actions* (``c2pa.resized``,
    ``c2pa.transcoded``), and the AIGC record in :data:`ASSERTION_LABEL`.  No AI ``digitalSourceType`` is
    claimed on these actions -- a resize is not a generative edit -- so the AI origin stays where the rubric
    reads it: the ingredient manifest's ``c2pa.created`` (``inception:signal_fullyGenAIMedia``).  Like
    :func:`sign_last` it is the last write and refuses a derivative that already carries a manifest; the
    signed file is read back (record, validation, the parent ingredient) before it replaces *out*.
    """
    sign_last(handler, out, None, implicit, notes)  # the guard: a derivative signed by someone else is refused
    _require("C2PA signing")
    end = out.seek(0, os.SEEK_END)
    out.seek(0)
    info = handler.read(CountingReader(out, "<output>", end)).info
    mime = _signing_mime(handler, info, "carry without --c2pa to carry the AIGC record alone")
    creds = options.check()
    from . import __version__

    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    steps: list[dict[str, Any]] = [{"action": "c2pa.opened", "when": when,
                                    "parameters": {"ingredientIds": [PARENT_LABEL]}}]
    steps += [{"action": name, "when": when} for name in actions]
    manifest: dict[str, Any] = {
        "claim_generator_info": [{"name": "aigclabel", "version": __version__}],
        "format": mime,
        "assertions": [
            {"label": "c2pa.actions.v2", "data": {"actions": steps}},
            {"label": ASSERTION_LABEL, "data": {"record": implicit.record_json,
                                                "schema": _schema(implicit.record_json)}},
        ],
    }
    if options.title:
        manifest["title"] = options.title
    ingredient = {"title": parent_title or "original", "relationship": "parentOf", "label": PARENT_LABEL}
    parents: list[dict[str, Any]] = []

    def add_parent(builder: Any) -> None:
        parent.seek(0)
        builder.add_ingredient(ingredient, parent_mime, _Stream(parent))

    def check() -> str:
        state = _check_signed(handler, out, implicit, mime, options)
        got = read_manifest(out, mime, ReadOptions())
        parents[:] = [i for i in (got.ingredients if got is not None else []) if i.get("relationship") == "parentOf"]
        if not parents or not parents[0].get("manifest"):
            raise SigningError("the signed derivative's manifest does not name the original's manifest as its "
                               "parent ingredient; nothing was written")
        return state

    state = _sign_into(out, manifest, mime, creds, options, check, add_parent)
    stamp = f", time-stamped by {options.tsa_url}" if options.tsa_url else ""
    notes.append(f"C2PA manifest signed last ({creds.alg}{stamp}) by {creds.signer}: c2pa.opened of the original "
                 f"(parent ingredient {ingredient['title']!r}, parentOf, manifest {parents[0]['manifest']}), "
                 f"{', '.join(actions)}, the AIGC record in {ASSERTION_LABEL}; the original's AI "
                 f"digitalSourceType stays in the ingredient's manifest; validation state {state}")


def _signing_mime(handler: FormatHandler, info: dict[str, Any], instead: str) -> str:
    """The MIME type the SDK signs *handler*'s format as; :class:`SigningError` (saying what to do *instead*) when
    the SDK cannot embed a manifest in it."""
    mime = mime_for(handler.name, info)
    if mime is None or not _supported(mime, signing=True):
        raise SigningError(f"C2PA signing is not available for {handler.name.upper()}: the C2PA SDK "
                           f"(c2pa-rs {sdk_version()}) cannot embed a manifest in this format; nothing was "
                           f"written ({instead})")
    return mime

"""The audible label: a rhythm prompt (Morse "AI", ·− ··) and/or a voice prompt inserted into the audio.

GB 45438-2025 asks audio for a voice prompt with an AI element and a generation element, or the
rhythm prompt "short long short short", at the start, the end and/or a suitable middle position.
The prompt is *inserted* (the content after it moves later), never mixed over the content.

Options (``ExplicitOptions.extra``, filled from ``--prompt`` / ``--audio-position`` and the profile's
``explicit.audio`` options):

* ``prompt``: ``"rhythm"`` (default: short and language-neutral), ``"voice"`` or ``"both"``;
* ``positions``: a list of ``"start"`` (default), ``"end"``, ``"middle"``;
* rhythm: ``rhythm_frequency`` (800 Hz), ``rhythm_unit_ms`` (80), ``rhythm_level_db`` (-6 dBFS),
  ``rhythm_fade_ms`` (5), ``rhythm_pad_units`` (3) - see :mod:`..morse`;
* voice: ``voice_level_db`` (-3 dBFS peak), ``voice_pad_ms`` (250 ms of silence around the clip).

The prompt matches the file: it is synthesised (tone) or resampled (voice clip, windowed-sinc) at
the file's sample rate and copied to every channel.  Per format:

* **WAV, AIFF/AIFF-C** (integer or float PCM): the sample data is spliced by hand; every original
  sample byte is kept, bit-exact, on both sides of the prompt; every other chunk is kept in order
  (``fact`` and ``COMM`` frame counts are updated; cue points and markers are *not* moved - a note
  says so when the file has them).
* **FLAC**: decoded and re-encoded losslessly with PyAV (bit-exact samples, same bit depth); every
  metadata block but STREAMINFO and SEEKTABLE (stale after the insertion; dropped) is kept, and so is
  an ID3v2 tag in front of ``fLaC``.
* **MP3**: the prompt is encoded as MP3 frames with LAME (``lameenc``) at the file's sample rate,
  bitrate and channel count and spliced in at frame boundaries; the original frames keep their
  bytes.  See :mod:`aigclabel.formats._mp3_splice` for the bit reservoir, the Xing/LAME header and
  the ~1 frame gap.
* **Ogg Vorbis, Opus, M4A**: decoded, the prompt inserted, re-encoded at the original's bitrate with
  PyAV (libopus, FFmpeg's AAC; Vorbis with the ``ffmpeg`` program's libvorbis, because PyAV's wheels
  lack it, else FFmpeg's experimental native encoder); the result notes say the audio was re-encoded.
  Apple Lossless (ALAC) in M4A is re-encoded as ALAC in its own sample format: bit-exact.

Layout: :mod:`.prompt` (the plan and its samples), :mod:`.placement` (where: the quiet middle),
:mod:`.marker` (the explicit step).  How the prompt gets into each container -- chunks, frames,
CRCs, encoders -- is the format handler's (``handler.audio_access(src)``, see
:mod:`aigclabel.formats.media_audio`).  numpy, lameenc and PyAV are imported inside the functions
(``pip install 'aigclabel[audio]'``).
"""

from __future__ import annotations

from ...formats._crc16 import crc16
from .marker import (INSTALL_HINT, SUPPORTED, AudioMarker, mark_aiff, mark_bytes, mark_flac, mark_mp3, mark_pcm_wav,
                     mark_reencode)
from .placement import MIDDLE_SEARCH_S, insert_request, quiet_point
from .prompt import (AUDIO_POSITIONS, PROMPTS, VOICE_CLIP, VOICE_TEXT, PromptPlan, prompt_samples, resample,
                     voice_clip)

__all__ = ["AudioMarker", "PromptPlan", "prompt_samples", "voice_clip", "resample", "PROMPTS", "AUDIO_POSITIONS",
           "VOICE_CLIP", "VOICE_TEXT", "INSTALL_HINT", "SUPPORTED", "mark_bytes", "mark_pcm_wav", "mark_aiff",
           "mark_flac", "mark_mp3", "mark_reencode", "crc16", "quiet_point", "insert_request", "MIDDLE_SEARCH_S"]

"""The explicit label for video: a text prompt drawn on the opening frames (and optionally the end and
the middle), shown for at least the profile's minimum duration.

GB 45438-2025 asks video for a text prompt in the opening frames, visible for at least 2 s at normal
speed, with a text height of at least 5 % of the frame's shortest side; end and middle prompts are
optional.  The label is sized and drawn by :mod:`.render` (the same code, font handling and
ink-height sizing as for images), at a corner by default, with the same plate colour on every frame.

How the video is rewritten (PyAV, ``pip install 'aigclabel[video]'``; libavcodec/libavformat):

* **Only the labelled segments are re-encoded** (the default, "partial").  A segment runs from the
  key frame at (or before) the start of a label window to the first *clean* key frame after its
  end -- an H.264/HEVC IDR picture (after which no picture refers to earlier ones), or a VP8/VP9 key
  frame.  Its frames are decoded, labelled, and re-encoded with the source's codec, size, pixel
  format, colour description, sample aspect ratio, time stamps and frame durations; every other
  video packet is copied unchanged.  The new pictures carry their own parameter sets (in band);
  the original SPS/PPS (VPS) from the stream's configuration record are put back in front of the
  first copied IDR, so each part decodes with its own.  The re-encoded segment uses no B-frames and
  takes the original decode time stamps where they fit, so the copied part's timing is untouched.
  After writing, the frames right after each splice are decoded from the output and compared with
  the source's: they must be bit-identical, else the whole video is re-encoded instead (and the
  notes say so).
* **Whole re-encode** ("full"): when the codec cannot be spliced (MPEG-4 Part 2, AV1, a stream
  without clean key frames after the label, open-GOP HEVC), when the check above fails, or when
  asked (``extra["reencode"] = "full"``).  Same codec and parameters; the quality matches the
  source: x264/x265's own rate-control settings when the stream carries their settings SEI (CRF),
  else the source's average bit rate.
* Every other stream (audio, subtitles, data, cover art) is **stream-copied**: its packets keep
  their bytes and time stamps.  The container is written again by libavformat in the same format
  (MP4/MOV with ``moov`` first when the source had it, Matroska, WebM); container and stream
  metadata, chapters, attachments, languages and dispositions are carried over.  What a remux does
  not keep: MP4 user-data boxes libavformat does not know (custom ``udta`` atoms, XMP ``uuid``
  boxes) and the ``encoder`` tag, which names the new muxer.  The implicit record is written after
  this step.
* The label is planned on the picture **as displayed**: a display matrix turning the picture by
  90/180/270 degrees (phone video) is honoured, and the text drawn upright for the viewer.  Only the
  pixels under the plate are converted to RGB and back; the rest of each frame is untouched
  before encoding.
* Not supported (:class:`UnsupportedOperation`): interlaced video; codecs other than H.264, HEVC,
  VP8, VP9, MPEG-4 Part 2 and AV1; pixel formats the encoder cannot write.  A file with no video
  stream (an audio-only MP4) gets the audible label instead, where :mod:`.audio` can add one.
  Work files go to a directory ``aigclabel-video-<pid>-XXXXXXXX`` in the system's temporary
  directory (about twice the video's size), removed when the call ends (also on SIGTERM/SIGINT).
* Limits (:mod:`aigclabel.limits`): the frame size (``max_pixels``), the packets listed
  (``max_structures``), the frames re-encoded (``max_video_frames``: a long video that must be
  re-encoded whole needs a higher limit) and the wall time (``max_decode_seconds``).

The package: :mod:`.plan` (options, label windows, packet ranges), :mod:`.paint` (drawing on
frames), :mod:`.encode` (encoder set-up and quality), :mod:`.transcode` (the rewrite),
:mod:`.splice_check` (the bit-exact check after each splice), :mod:`.marker` (the marker).  The
streams are read through the handler's ``video_access`` (:mod:`aigclabel.formats.media_video`);
NAL-unit facts live in :mod:`aigclabel.formats._nal`.

Options (``ExplicitOptions.extra``; the profile's ``explicit.video`` options land there too):

* ``duration_s``: how long each label is shown (default 3.0 s; at least ``min_duration_s``);
* ``at``: where: any of ``"start"`` (default), ``"end"``, ``"middle"`` (a list, or one string);
* ``reencode``: ``"auto"`` (partial when possible) or ``"full"``;
* ``preset``: x264/x265 preset for re-encoded pictures (default ``"medium"``).
"""

from __future__ import annotations

from ...formats._nal import annexb_to_lengths, nal_units
from ...formats.media_video import INSTALL_HINT
from .marker import VideoMarker
from .plan import DEFAULT_DURATION_S, VIDEO_AT

__all__ = ["VideoMarker", "VIDEO_AT", "INSTALL_HINT", "DEFAULT_DURATION_S", "annexb_to_lengths", "nal_units"]

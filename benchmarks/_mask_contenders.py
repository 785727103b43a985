"""The cosmic-ray tools that ``benchmarks/masks.py`` compares, each fed the data it was built for.

Every contender maps an exposure (crclean's ``SimulatedExposure`` or anything
with its attribute names) to a probability map and, from its mask at its
default threshold, a cleaned image in ADU (bias included, like ``clean_adu``):

* crclean's models and crclean's port of deepCR run through
  ``crclean.Cleaner``. Models that normalise by their own background estimate
  (``ModelSpec.normalisation == 'background'``) get the raw frame, bias and
  all, as a user would give it; the others get the bias-subtracted frame.
* deepCR's package (optional: it duplicates the port) and Cosmic-CoNN get
  bias-subtracted electrons (deepCR DECam: bias-subtracted ADU), as their
  documentation asks.
* Network masks (crclean's included) are filled by crclean's default
  inpainter, ``crclean.inpaint.inpaint(DEFAULT_INPAINTER, ...)``: this is what
  ``Cleaner(name).clean_array`` does when no defects are given, and it keeps the
  timed part (the mask) apart from the fill.
* LA Cosmic (astroscrappy) gives masks, not probabilities: it runs a sweep of
  ``sigclip``; its score per pixel is the highest sigclip that still flags it,
  its default mask is sigclip 4.5, and its cleaned image is astroscrappy's own.
"""

import contextlib
import io
import logging
import time
from dataclasses import dataclass

import numpy as np

LACOSMIC_SIGCLIPS = (3.0, 4.5, 6.0, 9.0, 15.0, 30.0)
LACOSMIC_DEFAULT = 4.5
DEFAULT_THRESHOLD = 0.5


@dataclass
class Run:
    """What one contender made of one exposure."""

    score: np.ndarray     # probability (LA Cosmic: the highest sigclip that flags the pixel, else 0)
    flagged: np.ndarray   # bool mask at the default threshold
    cleaned_adu: np.ndarray
    seconds: float        # time to make the mask (LA Cosmic: per sweep point)


def calibrated_adu(e):
    return np.asarray(e.image_adu, np.float32) - np.float32(e.bias)


def calibrated_electrons(e):
    return calibrated_adu(e) * np.float32(e.gain)


def fill(e, mask):
    """The exposure with ``mask`` filled by crclean's default inpainter, in ADU with the bias."""
    from crclean.inpaint import DEFAULT_INPAINTER, inpaint

    if not mask.any():
        return np.asarray(e.image_adu, np.float32)
    return inpaint(DEFAULT_INPAINTER, calibrated_adu(e), mask) + np.float32(e.bias)


@contextlib.contextmanager
def _quiet():
    """Silence a third-party tool's prints and progress bars (errors still raise)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


class NetworkContender:
    """A network: ``predict(e)`` gives probabilities; masks at 0.5 (grown into pixels above
    ``grow_threshold`` that touch them, when given: `crclean mask --grow-threshold`; with the long tracks
    along rows and columns it left, with ``axis_tracks``: `crclean mask --axis-tracks`; less the flags on stars
    the frame's other stars explain, with ``star_check``: `crclean mask --star-check`) are filled by `fill`."""

    def __init__(self, label, predict, *, grow_threshold=None, star_check=False, axis_tracks=False, sky=None):
        self.label, self._predict, self.grow_threshold = label, predict, grow_threshold
        self.star_check, self.axis_tracks = star_check, axis_tracks
        # Returns the sky maps the network was normalised with on the last exposure (None: measured again).
        self._sky = sky or (lambda: None)

    def probability(self, e):
        return np.asarray(self._predict(e), np.float32)

    def mask(self, e):
        """``(probability, flagged)`` for exposure ``e``: the mask as `crclean mask` makes it."""
        from crclean.engine._mask_steps import mask_from_probability

        probability = self.probability(e)
        return probability, mask_from_probability(probability, e.image_adu, threshold=DEFAULT_THRESHOLD,
                                                  grow_threshold=self.grow_threshold,
                                                  star_check=self.star_check, axis_tracks=self.axis_tracks,
                                                  sky=self._sky())

    def run(self, e):
        start = time.perf_counter()
        probability, flagged = self.mask(e)
        seconds = time.perf_counter() - start  # the mask as a user gets it: growth and axis tracks included
        return Run(probability, flagged, fill(e, flagged), seconds)


def register_candidate(path, label, *, like="crclean-ccd"):
    """Make the mask checkpoint at ``path`` a model called ``label`` for this process.

    A round's candidate is judged beside the shipped models before it is one of them: its spec is
    ``like``'s (architecture, tiling, precision), with the PSF planes its first convolution takes
    (2: ``psf_inputs``; 4: with ``psf_size``; 6: with ``psf_skew``; 8: both), one more with
    ``median_plane`` (the only odd plane), and its own checksum.
    """
    import dataclasses
    from pathlib import Path
    from types import MappingProxyType

    import torch

    from crclean import weights

    path = Path(path).resolve()
    base = weights.MODELS[like]
    state = torch.load(path, map_location="cpu", weights_only=True)
    first = state.get("encoders.0.0.weight") if isinstance(state, dict) else None
    planes = None if first is None else first.shape[1] - 1
    median = planes is not None and planes % 2 == 1
    planes = None if planes is None else planes - median
    if planes not in (0, 2, 4, 6, 8):
        raise ValueError(f"{path} is not the state dict of a mask UNet like {like}'s (a `crclean train mask` "
                         f"checkpoint such as <out>/<name>.pt)")
    config = {**base.config, "psf_inputs": planes > 0, "psf_size": planes in (4, 8), "psf_skew": planes >= 6,
              "median_plane": median}
    # An absolute resource: the weights directory joined with it is the path itself.
    spec = dataclasses.replace(base, name=label, resource=str(path), sha256=weights.sha256_of(path), config=config,
                               version=label, reference=f"candidate checkpoint {path}")
    weights.MODELS = MappingProxyType({**weights.MODELS, label: spec})
    return spec


def register_candidates(parser, candidates):
    """Register each ``CHECKPOINT=LABEL`` of a ``--candidate`` option; a bad one ends the run with
    ``parser.error`` (one line, exit status 2)."""
    from pathlib import Path

    for candidate in candidates:
        checkpoint, _, label = candidate.rpartition("=")
        if not checkpoint or not label or not Path(checkpoint).is_file():
            parser.error(f"--candidate takes CHECKPOINT=LABEL with an existing checkpoint file, got {candidate!r}")
        try:
            register_candidate(checkpoint, label)
        except ValueError as error:
            parser.error(f"--candidate {candidate!r}: {error}")


def crclean_model(name, *, grow_threshold=None, star_check=None, axis_tracks=None):
    """crclean's model ``name`` as a contender; with ``grow_threshold`` its masks are grown (its label says so).

    ``star_check`` takes back the flags on stars the frame's other stars explain and ``axis_tracks`` adds the
    long tracks along rows and columns the network left (default for both: on for crclean's own models and
    candidates, as `crclean mask` runs them, off for the ports of other packages' networks); either turned
    off for one of crclean's models, its label says so.
    """
    from crclean import Cleaner

    # The contender thresholds, grows and searches the probabilities itself, as `Cleaner.clean_array` does.
    cleaner = Cleaner(name, inpaint=None, device="cpu", star_check=False, axis_tracks=False).load()
    raw = cleaner.spec.normalisation == "background"

    def predict(e):
        data = e.image_adu if raw else calibrated_adu(e)
        return cleaner.clean_array(data, units="adu", gain=e.gain, readnoise=e.readnoise,
                                   label="benchmark").probability

    # Ports run weights another package ships (deepCR's); crclean's own and candidates go by their names.
    label = name if cleaner.spec.package is None else f"{name} (crclean port)"
    if grow_threshold is not None:
        label += f", grown to {grow_threshold:g}"
    own = cleaner.spec.package is None
    if star_check is None:
        star_check = own
    elif own and not star_check:
        label += ", no star check"
    if axis_tracks is None:
        axis_tracks = own
    elif own and not axis_tracks:
        label += ", no axis tracks"
    # The image the network saw is the one the search and the growth judge (``raw``): its sky maps serve both.
    sky = (lambda: cleaner._masker.sky) if raw else None
    return NetworkContender(label, predict, grow_threshold=grow_threshold, star_check=star_check,
                            axis_tracks=axis_tracks, sky=sky)


def deepcr_package(name, label):
    from deepCR import deepCR

    model = deepCR(mask=name, device="CPU")
    adu = name == "decam"

    def predict(e):
        image = calibrated_adu(e) if adu else calibrated_electrons(e)
        with _quiet():
            return model.clean(image, binary=False, segment=True, patch=256)

    return NetworkContender(label, predict)


def cosmic_conn(name):
    from cosmic_conn import init_model

    with _quiet():
        model = init_model(name)
    logging.getLogger().setLevel(logging.WARNING)

    def predict(e):
        with _quiet():
            return model.detect_cr(calibrated_electrons(e), ret_numpy=True)

    return NetworkContender(f"Cosmic-CoNN {name}", predict)


class LacosmicContender:
    label = "LA Cosmic (astroscrappy)"

    def run(self, e):
        import astroscrappy

        electrons = calibrated_electrons(e)
        score = np.zeros(electrons.shape, np.float32)
        start = time.perf_counter()
        for sigclip in LACOSMIC_SIGCLIPS:
            mask, cleaned = astroscrappy.detect_cosmics(electrons, gain=1.0, readnoise=e.readnoise, sigclip=sigclip,
                                                        objlim=5.0, satlevel=np.inf)
            score[mask] = sigclip
            if sigclip == LACOSMIC_DEFAULT:
                flagged, cleaned_adu = mask, cleaned / np.float32(e.gain) + np.float32(e.bias)
        seconds = (time.perf_counter() - start) / len(LACOSMIC_SIGCLIPS)
        return Run(score, flagged, cleaned_adu.astype(np.float32), seconds)


def contenders(own_models, *, deepcr_package_runs=False, anchors=True, warn=None, grow_threshold=None,
               without_axis_tracks=False, without_star_check=False):
    """Every contender, in table order; ``warn(message)`` reports one that cannot run. Without
    ``anchors`` only crclean's own models (deciding between two of them). With ``grow_threshold``
    each of crclean's models also runs with its masks grown to it; with ``without_axis_tracks``, also
    without the axis-track search; with ``without_star_check``, also without the star check. A port of another
    package's network named among ``own_models`` runs once, as it is (none of those steps is its own)."""
    from crclean import weights

    runs = [crclean_model(name) for name in own_models]
    crclean_own = [name for name in own_models if name not in weights.MODELS or weights.MODELS[name].package is None]
    if without_star_check:
        runs += [crclean_model(name, star_check=False) for name in crclean_own]
    if without_axis_tracks:
        runs += [crclean_model(name, axis_tracks=False) for name in crclean_own]
    if grow_threshold is not None:
        runs += [crclean_model(name, grow_threshold=grow_threshold) for name in own_models]
    if not anchors:
        return runs
    runs.append(crclean_model("deepcr-decam"))
    runs.append(crclean_model("deepcr-acs-wfc"))
    if deepcr_package_runs:
        runs.append(deepcr_package("decam", "deepCR DECam (deepCR package)"))
        runs.append(deepcr_package("ACS-WFC", "deepCR ACS-WFC (deepCR package)"))
    for name in ("ground_imaging", "HST_ACS_WFC"):
        try:
            runs.append(cosmic_conn(name))
        except ImportError:
            if warn:
                warn("cosmic-conn is not installed (pip install cosmic-conn): Cosmic-CoNN is left out")
            break
    runs.append(LacosmicContender())
    return runs

"""crclean's public API: find cosmic rays in arrays and FITS files, inpaint them.

A `Cleaner` holds a loaded model and its settings, so a batch of files
loads each model once::

    from crclean import Cleaner
    cleaner = Cleaner("deepcr-decam", threshold=0.5)
    result = cleaner.clean_array(image, units="adu", gain=4.0)
    report = cleaner.clean_file("in.fits", "out.fits")

``Cleaner()`` (model ``'auto'``) chooses per file: the space or the ground
model, from the telescope and instrument its header names (see
`crclean.weights.AUTO_MODELS`).
"""

import logging

import numpy as np

from crclean._precision import PRECISIONS
from crclean._results import CleanResult, FileReport, PlaneReport
from crclean.inpaint import DEFAULT_INPAINTER, INPAINTERS, inpaint
from crclean.io._blank import blank_markers
from crclean import weights
from crclean.weights import AUTO_MODEL, DEFAULT_MODEL, get_model

__all__ = ["Cleaner", "CleanResult", "FileReport", "PlaneReport", "clean_array"]

logger = logging.getLogger(__name__)


def _check_positive_int(name, value, *, multiple=1):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0 or value % multiple:
        extra = f" and a multiple of {multiple}" if multiple > 1 else ""
        raise ValueError(f"{name} must be a positive integer{extra}, got {value!r}")


class Cleaner:
    """A cosmic-ray model with its settings, loaded once and reused.

    Parameters
    ----------
    model : str, optional
        A name from `crclean.weights.MODELS` (see ``crclean models``), or
        ``'auto'`` (the default): `clean_file` reads each file's ``TELESCOP``,
        ``INSTRUME``, ``DETECTOR`` and ``OBSERVAT`` (`crclean.io.classify_headers`)
        and uses ``AUTO_MODELS['space']`` for space telescopes such as HST,
        JWST and Euclid and ``AUTO_MODELS['ground']`` for anything else (today
        crclean-ccd for both); each model loads on the first
        file that needs it, once. `clean_array` has no header and uses the
        ground model, as for a file whose header names no telescope: name
        the model for space images.
    threshold : float, optional
        Probability above which a pixel is flagged, in (0, 1).
    grow_threshold : float, optional
        Also flag every pixel above this lower probability that touches a
        flagged pixel through such pixels (hysteresis,
        `crclean.engine._hysteresis.grow_into`): more of each hit's faint
        wings. Growth stays off the smooth light of stars and galaxies and
        off saturated pixels (``saturation``), though some more flags land
        on them (docs/benchmarks.md). In (0, ``threshold``); None (the
        default) grows nothing.
    star_check : bool, optional
        Take back the flags on bright stars that the frame's unflagged stars
        explain, where a PSF makes stars look like hits to the network
        (`crclean.engine._star_twins`). Default True.
    axis_tracks : bool, optional
        Also flag long tracks along a row or column that the network left
        unflagged, which it cannot tell from a bad column in its view
        (`crclean.engine._axis_tracks`). Default True.
    inpaint : str or None, optional
        Inpainting method (``'median'``), or ``None`` to leave pixels as they are.
    device : str, optional
        ``'auto'`` (a GPU when PyTorch sees one), ``'cpu'`` or ``'cuda'``.
    batch_size : int, optional
        Tiles per forward pass; default about 1 Mpx of tiles on the CPU
        (16 of 256 px, one of 1024 px), 8 Mpx on a GPU.
    tile_size : int, optional
        Largest tile side in pixels (multiple of 16); tiles shrink to fit
        the image with least waste. Default: the model's own
        (``ModelSpec.tile_size``): 256 for deepCR's networks, 1024 for crclean's.
    overlap : int, optional
        Pixels shared by neighbouring tiles (multiple of 16, at most half a
        tile). Default: the model's own (``ModelSpec.overlap``), enough for
        its receptive field: 32 for deepCR's networks, 160 for crclean's.
    progress : bool, optional
        Draw a progress bar on stderr (only on a terminal).
    precision : {'auto', 'float32', 'float16', 'bfloat16'}, optional
        Arithmetic of the network: 'float16' or 'bfloat16' run it under
        ``torch.autocast`` (bfloat16 keeps the network's first block, and
        the blocks its spec names, in float32: `ModelSpec.float32_blocks`).
        'auto' is float16 on a GPU, bfloat16 on a CPU with native bfloat16
        units (AMX or AVX512_BF16, `crclean._precision.native_bfloat16`) for a
        model cleared for it (`ModelSpec.cpu_bfloat16`: crclean-ccd), and
        float32 otherwise. Measured: float16 keeps probabilities within 0.006
        of float32 and flipped no mask pixel; crclean-ccd's bfloat16 masks
        stay within `crclean._precision.MASK_TOLERANCE` on every mask
        benchmark family (docs/benchmarks.md).

    Attributes
    ----------
    model : str
        The model's name, or ``'auto'``.
    spec : crclean.weights.ModelSpec or None
        The model's manifest entry; ``None`` for ``'auto'``.
    tile_size, overlap : int or None
        As resolved for the model; for ``'auto'``, as given (``None``: each
        model's own).
    """

    def __init__(self, model=AUTO_MODEL, *, threshold=0.5, inpaint=DEFAULT_INPAINTER, device="auto",
                 batch_size=None, tile_size=None, overlap=None, progress=False, precision="auto",
                 grow_threshold=None, star_check=True, axis_tracks=True):
        from crclean.engine import TILE_MULTIPLE

        self._masker, self._choices = None, None
        if model == AUTO_MODEL:
            # One Cleaner per model auto may choose, built now so that the options are
            # checked against each; none loads its network before a file needs it.
            self._choices = {name: Cleaner(name, threshold=threshold, inpaint=inpaint, device=device,
                                           batch_size=batch_size, tile_size=tile_size, overlap=overlap,
                                           progress=progress, precision=precision,
                                           grow_threshold=grow_threshold, star_check=star_check,
                                           axis_tracks=axis_tracks)
                             for name in dict.fromkeys(weights.AUTO_MODELS.values())}
            self.model, self.spec = AUTO_MODEL, None
            checked = next(iter(self._choices.values()))
            self.threshold, self.inpaint, self.device = checked.threshold, inpaint, device
            self.grow_threshold, self.axis_tracks = checked.grow_threshold, checked.axis_tracks
            self.star_check = checked.star_check
            self.batch_size, self.tile_size, self.overlap = batch_size, tile_size, overlap
            self.progress, self.precision = progress, precision
            return
        self.spec = get_model(model)
        self.model = self.spec.name
        if not isinstance(threshold, (float, int)) or not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1 (exclusive), got {threshold!r}")
        if grow_threshold is not None and (isinstance(grow_threshold, bool)
                                           or not isinstance(grow_threshold, (float, int))
                                           or not 0.0 < grow_threshold < threshold):
            raise ValueError(f"grow_threshold must be between 0 and the threshold ({threshold:g}), "
                             f"both exclusive, got {grow_threshold!r}")
        for name, value in (("star_check", star_check), ("axis_tracks", axis_tracks)):
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be True or False, got {value!r}")
        if inpaint is not None and inpaint not in INPAINTERS:
            known = ", ".join(INPAINTERS)
            raise ValueError(f"inpaint must be one of: {known} (or None), got {inpaint!r}")
        if device not in ("auto", "cpu") and not str(device).startswith("cuda"):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of: {', '.join(PRECISIONS)}, got {precision!r}")
        if batch_size is not None:
            _check_positive_int("batch_size", batch_size)
        if tile_size is None:
            tile_size = self.spec.tile_size
        _check_positive_int("tile_size", tile_size, multiple=TILE_MULTIPLE)
        if overlap is None:
            overlap = min(self.spec.overlap, tile_size // 2)
        if tile_size < 2 * TILE_MULTIPLE:
            raise ValueError(f"tile_size must be at least {2 * TILE_MULTIPLE}, got {tile_size}")
        if not isinstance(overlap, (int, np.integer)) or overlap < 0 or overlap % TILE_MULTIPLE \
                or overlap > tile_size // 2:
            raise ValueError(
                f"overlap must be a multiple of {TILE_MULTIPLE} between 0 and tile_size/2 "
                f"({tile_size // 2}), got {overlap!r}"
            )
        self.threshold = float(threshold)
        self.grow_threshold = None if grow_threshold is None else float(grow_threshold)
        self.star_check, self.axis_tracks = star_check, axis_tracks
        self.inpaint = inpaint
        self.device = device
        self.batch_size = batch_size
        self.tile_size = tile_size
        self.overlap = overlap
        self.progress = progress
        self.precision = precision

    @property
    def weights_sha256(self):
        """sha256 of the model's checkpoint, or ``None`` for classical models and ``'auto'``."""
        return (self.spec.sha256 or None) if self.spec is not None else None

    def load(self):
        """Load the model now (otherwise it loads on first use); returns self.

        With ``'auto'`` the models still load on the first file that needs
        each (a batch of one kind loads one); this only checks the device and
        that the weights of every model it may choose are installed and intact.

        Raises
        ------
        crclean.exceptions.ModelError
            Missing weights or a checksum mismatch.
        ValueError
            A CUDA device was asked for and none is visible.
        """
        if self._choices is None:
            self._get_masker()
            return self
        from crclean.engine import resolve_device
        from crclean.weights import verify_weights

        resolve_device(self.device)
        for cleaner in self._choices.values():
            verify_weights(cleaner.spec)
        return self

    def _choose(self, exposure, indices):
        """The Cleaner for an open file, and the `crclean.io.DataKind` it was chosen by (``None`` if named)."""
        if self._choices is None:
            return self, None
        from crclean.io import classify_headers

        hdul = exposure.hdul
        data_kind = classify_headers([hdul[0].header] + [hdul[index].header for index in indices if index])
        return self._choices[weights.AUTO_MODELS[data_kind.kind]], data_kind

    def _get_masker(self):
        # Loaded on first use so that building a Cleaner (and validating the
        # options) costs nothing, and a batch loads the model exactly once.
        if self._masker is None:
            from crclean._precision import resolve_precision
            from crclean.engine import LacosmicMasker, NetworkMasker, default_batch_size, resolve_device
            from crclean.weights import load_network

            if self.spec.kind == "lacosmic":
                self._masker = LacosmicMasker()
            else:
                device = resolve_device(self.device)
                network = load_network(self.spec, device=device)
                logger.info("loaded model %s on %s", self.spec.name, device)
                self._masker = NetworkMasker(
                    network, self.spec, device=device,
                    batch_size=self.batch_size or default_batch_size(device, self.tile_size),
                    tile_size=self.tile_size, overlap=self.overlap,
                    precision=resolve_precision(self.precision, device, cpu_bfloat16=self.spec.cpu_bfloat16),
                )
        return self._masker

    def clean_array(self, data, *, units="adu", gain=None, readnoise=None, exptime=None,
                    saturation=None, defects=None, label="image"):
        """Find and (optionally) inpaint cosmic rays in one 2-D array.

        An array has no header to choose a model by: with ``'auto'`` it gets
        the ground model (``AUTO_MODELS['ground']``).

        Parameters
        ----------
        data : numpy.ndarray
            2-D image, at least 16x16; not modified. NaN and inf pixels, and
            blank markers (magnitude 1e20 or more, such as -1e30; with a
            warning), are never flagged and never used to fill others.
        units : {'adu', 'electron', 'electron/s'}, optional
            Units of ``data``; converted to what the model expects.
        gain : float, optional
            Electrons per ADU (needed when units differ from the model's).
        readnoise : float, optional
            Electrons (used by LA Cosmic).
        exptime : float, optional
            Seconds (for ``'electron/s'`` data).
        saturation : float, optional
            Saturation level in ``units``: LA Cosmic uses it, and pixels at or
            above it are never used to fill others.
        defects : numpy.ndarray of bool, optional
            Pixels known to be bad (hot, dead, saturated...), e.g. from a DQ
            array: never used to fill others and left as they are unless the
            model flags them.
        label : str, optional
            Names the image in warnings.

        Returns
        -------
        CleanResult
        """
        from crclean.tiling import MIN_IMAGE_SIZE

        if self._choices is not None:  # 'auto' without a header: as a file that names no telescope
            return self._choices[weights.AUTO_MODELS["ground"]].clean_array(
                data, units=units, gain=gain, readnoise=readnoise, exptime=exptime, saturation=saturation,
                defects=defects, label=label)
        data = np.asarray(data)
        if data.ndim != 2:
            raise ValueError(f"data must be a 2-D image, got {data.ndim} dimensions (shape {data.shape})")
        if min(data.shape) < MIN_IMAGE_SIZE:
            raise ValueError(
                f"{label} is {data.shape[0]}x{data.shape[1]} pixels; crclean needs at least "
                f"{MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE} pixels per image"
            )
        if not np.issubdtype(data.dtype, np.number) or np.iscomplexobj(data):
            raise ValueError(f"data must be real numbers, got dtype {data.dtype}")
        # Blank markers (-1e30...) are missing data like NaN: as pixels they would swamp the
        # model's normalisation. The cleaned image keeps them as the input had them.
        blank = blank_markers(data, where=label)
        work = np.where(blank, np.nan, data) if blank.any() else data
        probability = self._get_masker().predict(
            work, units=units, gain=gain, readnoise=readnoise, exptime=exptime,
            saturation=saturation, label=label, progress=self.progress,
        )
        from crclean.engine._mask_steps import mask_from_probability

        # The sky maps the network was normalised with serve the steps that judge pixels against the sky.
        mask = mask_from_probability(probability, work, threshold=self.threshold, grow_threshold=self.grow_threshold,
                                     star_check=self.star_check, axis_tracks=self.axis_tracks,
                                     saturation=saturation, defects=defects,
                                     sky=getattr(self._masker, "sky", None))
        cleaned = self._fill(work, mask, defects, saturation) if self.inpaint else None
        if cleaned is not None and blank.any():
            cleaned[blank] = data[blank]
        return CleanResult(probability, mask, cleaned)

    def _fill(self, data, mask, defects, saturation):
        # Known defects and saturated pixels are no source for the fill, and stay as they are.
        unusable = np.zeros(data.shape, bool) if defects is None else np.asarray(defects, bool)
        if saturation is not None:
            with np.errstate(invalid="ignore"):
                unusable = unusable | (data >= saturation)
        # The learned inpainter runs where the mask network does.
        options = {"device": self.device} if self.inpaint == "learned" else {}
        return inpaint(self.inpaint, data, mask, unusable=unusable, **options)

    def clean_file(self, input_path, output_path, *, ext=None, gain=None, readnoise=None,
                   dq_bit=8192, write_probability=False, overwrite=False, quicklook_path=None, quicklook_region=None,
                   trim=True, overlap_io=True):
        """Clean every selected image of a FITS file and write the products.

        The output holds every HDU of the input in order; each processed image
        is inpainted (unless inpainting is off) and gains a ``DQ`` extension
        with ``dq_bit`` set on cosmic rays (OR-ed into an existing DQ), an
        optional ``CRPROB`` extension, and provenance keywords. The file is
        written atomically; the input is never modified. Images stream through
        (see `crclean.io.ProductWriter`): while the network works on one, the
        next is read and the previous one written in background threads
        (`crclean._overlap.run_overlapped`), so memory holds about three
        images, however many extensions the file has.

        Parameters
        ----------
        input_path, output_path : str or pathlib.Path
        ext : list of str or int, optional
            Extensions to process (see `crclean.io.select_planes`).
        gain, readnoise : float, optional
            Override the header values.
        dq_bit : int, optional
            A power of two below 2**15.
        write_probability : bool, optional
            Also write the probability map.
        overwrite : bool, optional
            Replace an existing output.
        quicklook_path : str or pathlib.Path, optional
            Also write a PNG of the first processed image: input, mask and
            cleaned image side by side, titled, and the same at full
            resolution in ``quicklook_region`` (see
            `crclean.io._quicklook.render_quicklook`).
        quicklook_region : tuple of slice, optional
            ``(rows, columns)`` of the quick-look's zoom; default the window
            with the most flagged pixels.
        trim : bool, optional
            Search only the data section of images whose header gives
            ``TRIMSEC``/``DATASEC``/``BIASSEC`` (`crclean.io.data_section`):
            prescan and overscan pass through unchanged, with no DQ flag and
            probability 0, and ``CRSECT`` records the section. ``False``
            searches every pixel.
        overlap_io : bool, optional
            Read and write in background threads while the network runs;
            ``False`` does one thing at a time. The product is the same.

        Returns
        -------
        FileReport
            With the model used, the device, one `PlaneReport` per image, and
            with ``'auto'`` the kind of data that chose it.
        """
        from crclean._clean_file import clean_file

        return clean_file(self, input_path, output_path, ext=ext, gain=gain, readnoise=readnoise, dq_bit=dq_bit,
                          write_probability=write_probability, overwrite=overwrite, quicklook_path=quicklook_path,
                          quicklook_region=quicklook_region, trim=trim, overlap_io=overlap_io)

    def _device_name(self):
        """Where the loaded model runs: ``'cpu'``, ``'cuda:0'``... (LA Cosmic runs on the CPU)."""
        device = getattr(self._get_masker(), "device", None)
        return "cpu" if device is None else str(device)


def clean_array(data, *, model=DEFAULT_MODEL, threshold=0.5, inpaint=DEFAULT_INPAINTER, device="auto",
                units="adu", gain=None, readnoise=None, exptime=None, grow_threshold=None, star_check=True,
                axis_tracks=True):
    """One-shot `Cleaner.clean_array` (loads the model each call).

    Parameters
    ----------
    data : numpy.ndarray
        2-D image.
    model, threshold, inpaint, device, grow_threshold, star_check, axis_tracks
        See `Cleaner`.
    units, gain, readnoise, exptime
        See `Cleaner.clean_array`.

    Returns
    -------
    CleanResult
    """
    cleaner = Cleaner(model, threshold=threshold, inpaint=inpaint, device=device, grow_threshold=grow_threshold,
                      star_check=star_check, axis_tracks=axis_tracks)
    return cleaner.clean_array(data, units=units, gain=gain, readnoise=readnoise, exptime=exptime)


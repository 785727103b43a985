"""Find lenses in tiles of any size: resample, subtract sky, slide windows, merge."""

import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from crclean.exceptions import InputError
from crclean.lenses._background import subtract_background
from crclean.lenses._catalog import make_catalog
from crclean.lenses._manifest import DEFAULT_LENS_MODEL, get_lens_model, load_lens_network
from crclean.lenses._normalise import normalise_image
from crclean.lenses._resample import pixel_scale_arcsec, resample_to_scale
from crclean.lenses._views import VIEW_COUNTS, VIEWS, flip_batch, fuse_views, unflip_boxes
from crclean.lenses._windows import nms, plan_windows, touches_inner_edge
from crclean.weights import ModelSpec

__all__ = ["LensFinder", "TileResult"]

#: Pixel scales within this fraction of the model's are used as they are.
SCALE_TOLERANCE = 0.02


@dataclass
class TileResult:
    """What `LensFinder.find` returns for one tile.

    Attributes
    ----------
    catalog : astropy.table.Table
        One row per lens candidate (see `make_catalog`).
    image : numpy.ndarray
        The sky-subtracted tile at its own pixel scale (for cutouts);
        ``(bands, ny, nx)`` for a multi-band model.
    seconds : float
    resampled : bool
        Whether the tile was resampled to the model's pixel scale.
    notes : list of str
    """

    catalog: object
    image: np.ndarray
    seconds: float
    resampled: bool
    notes: list = field(default_factory=list)


class LensFinder:
    """An RT-DETR lens finder applied to whole survey tiles.

    Parameters
    ----------
    model : str or crclean.weights.ModelSpec, optional
        A name of `LENS_MODELS` (or its spec).
    conf : float, optional
        Keep candidates scoring at least this, in (0, 1).
    device : {'auto', 'cpu', 'cuda'}, optional
    batch_size : int, optional
        Windows per forward pass.
    iou_threshold : float, optional
        NMS overlap across windows.
    network : torch.nn.Module, optional
        Use this network instead of loading the model's weights (tests).
    progress : bool, optional
        Progress bar over windows on stderr.
    views : {4, 1, 8}, optional
        Look at each window as it is and mirrored in x, y and both (4), fusing
        the views' boxes (`fuse_views`); only as it is (1): a quarter of the
        detector's work for a lower AP@50 on the benchmark tiles; or the four
        mirror images and the same four transposed (8): twice the work of 4.
    clean_cosmics : bool, optional
        First find and inpaint cosmic rays in every image (each band, each
        cutout) with crclean's default mask model (`crclean.lenses._cosmics`):
        for single exposures, where a hit across a galaxy can look like an arc.

    References
    ----------
    Zhao, Y. et al. 2024, "DETRs Beat YOLOs on Real-time Object Detection", CVPR.
    """

    def __init__(self, model=DEFAULT_LENS_MODEL, *, conf=0.9, device="auto", batch_size=16, iou_threshold=0.3,
                 network=None, progress=False, views=4, clean_cosmics=False):
        self.spec = model if isinstance(model, ModelSpec) else get_lens_model(model)
        if self.spec.task != "lens":
            raise ValueError(f"model {self.spec.name!r} is a {self.spec.task} model, not a lens finder")
        if isinstance(conf, bool) or not isinstance(conf, (int, float)) or not 0 < conf < 1:
            raise ValueError(f"conf must be a number in (0, 1), got {conf!r}")
        if device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if not 0 <= iou_threshold < 1:
            raise ValueError(f"iou_threshold must be in [0, 1), got {iou_threshold!r}")
        if isinstance(views, bool) or views not in VIEW_COUNTS:
            raise ValueError(f"views must be one of {VIEW_COUNTS}, got {views!r}")
        self.conf, self.device, self.batch_size, self.views = float(conf), device, batch_size, views
        self.iou_threshold, self.progress = float(iou_threshold), progress
        self.network = network
        self.clean_cosmics, self._cosmics = bool(clean_cosmics), None

    def load(self):
        """Load the network (checking its weights) now rather than on the first tile.

        Raises
        ------
        crclean.exceptions.ModelError
            Missing or damaged weights.
        """
        import torch

        if self.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device 'cuda' was asked for but PyTorch sees no GPU; use --device cpu")
        self._torch_device = "cuda" if self.device == "auto" and torch.cuda.is_available() else (
            "cpu" if self.device == "auto" else self.device)
        if self.network is None:
            self.network = load_lens_network(self.spec, device=self._torch_device)
        else:
            self.network = self.network.to(self._torch_device).eval()
        if self.clean_cosmics and self._cosmics is None:
            from crclean.lenses._cosmics import CosmicRemover

            self._cosmics = CosmicRemover(self._torch_device).load()
        return self

    @property
    def cosmics_model(self):
        """The mask model that cleans the inputs (``clean_cosmics``), or None."""
        if not self.clean_cosmics:
            return None
        from crclean.lenses._cosmics import COSMICS_MODEL

        return COSMICS_MODEL

    def without_cosmics(self, planes, *, where="image"):
        """``planes`` with cosmic rays inpainted when the finder was made with ``clean_cosmics``, else as given."""
        if not self.clean_cosmics:
            return planes
        if self._cosmics is None:
            self.load()
        return self._cosmics(planes, where=where)

    def _window_detections(self, batch, view, window, *, floor=None):
        """Per window of ``batch``: boxes (window pixels) and calibrated scores seen through ``view``.

        Detections scoring below ``floor`` are dropped [default: the cut with
        one view, else a little below it, since a view's weak detections
        still count towards a fused score].
        """
        import torch

        from crclean.models.rtdetr import postprocess

        # Windows of a single-band tile are (B, H, W); of a multi-band one already (B, bands, H, W).
        views = flip_batch(batch, view)
        outputs = self.network(torch.as_tensor(views[:, None] if views.ndim == 3 else views, device=self._torch_device))
        # Calibrated scores: a Platt map of the logits, applied before the cut.
        outputs = {"pred_logits": outputs["pred_logits"] * self.spec.score_slope + self.spec.score_offset,
                   "pred_boxes": outputs["pred_boxes"]}
        if floor is None:
            floor = self.conf if self.views == 1 else min(self.conf, 0.02)
        return [(unflip_boxes(result["boxes"].cpu().numpy(), view, window), result["scores"].cpu().numpy())
                for result in postprocess(outputs, (window, window), top_k=10, min_score=floor)]

    def _detect(self, normalised):
        """Boxes and scores (tile pixels) of a normalised image ``([bands,] ny, nx)`` at the model's scale."""
        import torch

        from crclean._progress import ProgressBar

        window, overlap = self.spec.tile_size, self.spec.overlap
        ny, nx = normalised.shape[-2:]
        padded = np.zeros((*normalised.shape[:-2], max(ny, window), max(nx, window)), np.float32)
        padded[..., :ny, :nx] = normalised
        corners = plan_windows((ny, nx), window, overlap)
        boxes, scores = [], []
        with ProgressBar(len(corners), "lenses", enabled=self.progress) as bar, torch.no_grad():
            for start in range(0, len(corners), self.batch_size):
                chunk = corners[start:start + self.batch_size]
                batch = np.stack([padded[..., y0:y0 + window, x0:x0 + window] for y0, x0 in chunk])
                per_view = [self._window_detections(batch, view, window) for view in VIEWS[:self.views]]
                for index, (y0, x0) in enumerate(chunk):
                    found = [found_in_view[index] for found_in_view in per_view]
                    window_boxes, window_scores = fuse_views(found) if self.views > 1 else found[0]
                    for box, score in zip(window_boxes, window_scores):
                        box = box + np.array([x0, y0, x0, y0])
                        inner = touches_inner_edge(box, (y0, x0), window, padded.shape[-2:])
                        if score >= self.conf and not inner:
                            boxes.append(box)
                            scores.append(float(score))
                bar.update(len(chunk))
        boxes = np.array(boxes, float).reshape(-1, 4)
        scores = np.array(scores, float)
        keep = nms(boxes, scores, iou_threshold=self.iou_threshold)
        boxes, scores = boxes[keep], scores[keep]
        keep = np.argsort(-scores, kind="stable")
        keep = keep[scores[keep] >= self.conf]
        boxes, scores = boxes[keep], scores[keep]
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, nx)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, ny)
        return boxes, scores

    def _prepare(self, planes, scale, *, where):
        """Sky-subtracted bands (own scale), normalised network input (model's scale), scale factor.

        ``planes`` is ``(bands, ny, nx)``. Each band's sky and noise are its
        own; the bands are resampled together, in one reproject call, since
        they share one grid (three times faster than band by band).
        """
        names = [f"{where} band {band}" for band in self.spec.bands] if self.spec.bands else [where]
        fitted = [subtract_background(plane, where=name) for plane, name in zip(planes, names)]
        subtracted, sigmas = np.stack([band for band, _ in fitted]), [sigma for _, sigma in fitted]
        factor, work = 1.0, subtracted
        if abs(scale / self.spec.pixel_scale - 1) > SCALE_TOLERANCE:
            # A single band goes as a 2-D image, exactly as before multi-band models.
            work, factor = resample_to_scale(subtracted if self.spec.bands else subtracted[0], scale,
                                             self.spec.pixel_scale)
            work = work.reshape(len(planes), *work.shape[-2:])
            for index, (band, name) in enumerate(zip(work, names)):
                finite = band[np.isfinite(band)]
                if finite.size:
                    sigmas[index] = float(1.4826 * np.median(np.abs(finite - np.median(finite))))
                if not sigmas[index] > 0:
                    raise InputError(f"{name}: no sky noise left after resampling")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NaN borders
            normalised = np.stack([normalise_image(band, sigma) for band, sigma in zip(work, sigmas)])
        return subtracted, normalised, factor

    def score_cutouts(self, cutouts, *, pixel_scale=None, where="cutout"):
        """One score per cutout centred on an object (see `crclean.lenses._cutouts.score_cutouts`).

        Parameters
        ----------
        cutouts : numpy.ndarray
            ``(n, ny, nx)``, or ``(n, bands, ny, nx)`` for a multi-band
            model; 32-256 pixels a side at the model's pixel scale (the
            central 128 are scored). The sky and its noise are measured on
            each cutout's border.
        pixel_scale : float, optional
            Arcsec per pixel [default: the model's].
        where : str, optional
            Names the cutouts in errors.

        Returns
        -------
        list of crclean.lenses._cutouts.CutoutScore
            Every cutout's best calibrated score (0 when nothing is
            detected), whatever ``conf``, and its box.
        """
        from crclean.lenses._cutouts import score_cutouts

        return score_cutouts(self, cutouts, pixel_scale=pixel_scale, where=where)

    def find(self, image, *, wcs=None, pixel_scale=None, tile="", first_id=1):
        """Search one tile.

        Parameters
        ----------
        image : numpy.ndarray
            2-D pixels (any units, sky included or not); NaN marks missing data.
            For a multi-band model (``spec.bands``), ``(bands, ny, nx)``: one
            image per band in the model's order, all on one pixel grid (see
            `crclean.lenses._bands.register_bands`); each band's sky and noise
            are measured on its own. Never modified.
        wcs : astropy.wcs.WCS, optional
            Celestial WCS: gives the pixel scale (the tile is resampled to the
            model's when they differ by more than 2%) and ``ra``/``dec``.
        pixel_scale : float, optional
            Arcsec per pixel for a tile without WCS; default the model's.
        tile : str, optional
            Name for the catalogue's ``tile`` column.
        first_id : int, optional
            ``id`` of the first row.

        Returns
        -------
        TileResult

        Raises
        ------
        crclean.exceptions.InputError
            Not 2-D (or not one plane per band), smaller than 16 x 16, or
            (nearly) no finite pixel.
        """
        start = time.perf_counter()
        image = np.asarray(image)
        if self.spec.bands and (image.ndim != 3 or image.shape[0] != len(self.spec.bands)):
            raise InputError(f"{tile or 'image'}: lens model {self.spec.name!r} takes {len(self.spec.bands)} bands "
                             f"({', '.join(self.spec.bands)}) as a (bands, ny, nx) array, got shape {image.shape}")
        if image.ndim != (3 if self.spec.bands else 2) or min(image.shape[-2:]) < 16:
            kind = "band images" if self.spec.bands else "a 2-D image"
            raise InputError(f"{tile or 'image'}: need {kind} of at least 16x16 pixels, got shape {image.shape}")
        if self.network is None or not hasattr(self, "_torch_device"):
            self.load()
        notes = []
        if wcs is not None:
            scale = pixel_scale_arcsec(wcs)
            if not np.isfinite(scale) or scale <= 0:
                raise InputError(f"{tile or 'image'}: its WCS gives a pixel scale of {scale} arcsec; fix the "
                                 "CD/CDELT keywords")
        elif pixel_scale is not None:
            if not np.isfinite(pixel_scale) or pixel_scale <= 0:
                raise ValueError(f"pixel_scale must be positive, got {pixel_scale!r}")
            scale = float(pixel_scale)
        else:
            scale = self.spec.pixel_scale
            notes.append(f"{tile or 'image'} has no celestial WCS; assumed the model's "
                         f"{self.spec.pixel_scale} arcsec/pixel and left ra/dec empty")
        image = self.without_cosmics(image, where=tile or "image")
        subtracted, normalised, factor = self._prepare(image if self.spec.bands else image[None], scale,
                                                       where=tile or "image")
        if not self.spec.bands:
            subtracted, normalised = subtracted[0], normalised[0]
        resampled = factor != 1.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NaN borders
            boxes, scores = self._detect(normalised)
        boxes = boxes * factor
        catalog = make_catalog(boxes, scores, tile=tile, wcs=wcs, pixel_scale=scale,
                               theta_e_slope=self.spec.theta_e_slope, theta_e_offset=self.spec.theta_e_offset,
                               first_id=first_id)
        return TileResult(catalog, subtracted, time.perf_counter() - start, resampled, notes)

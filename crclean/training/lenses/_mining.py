"""Hard-negative mining: find the look-alikes a starting model takes for lenses, and draw them more often.

A lens finder's false positives at a high threshold are a few hard
look-alikes (ring galaxies above all), a small share of the many drawn in
training; uniform draws spend most steps on galaxies it already leaves
alone. Mining scores every look-alike in a run's stamp bank with the model
the run starts from, each alone in a window with the run's noise, PSF and
colour draws, and a share of later draws goes to the look-alikes in
proportion to their scores (hard-negative mining as in Felzenszwalb et al.
2010; online for detectors in Shrivastava et al. 2016). The rest stay
uniform, so the easy look-alikes are still seen, and the validation and
calibration windows keep uniform draws, as the sky has them.

References
----------
Felzenszwalb, P. F. et al. 2010, IEEE TPAMI 32, 1627.
Shrivastava, A., Gupta, A. & Girshick, R. 2016, "Training Region-based Object Detectors with Online Hard
Example Mining", CVPR.
"""

import time
from pathlib import Path

import numpy as np

from crclean.training.lenses._calibrate import detect_windows
from crclean.training.lenses._scene import compose_scene, network_input

__all__ = ["mine_negative_scores", "mined_weights", "score_summary", "mined_run_weights"]


def mine_negative_scores(network, bank, *, window, seed, repeats=2, bands=None, scene_options=None, batch_size=16,
                         progress=None):
    """Each bank look-alike's mean top detection score under ``network``, seen alone in a window.

    Parameters
    ----------
    network : torch.nn.Module
        An RT-DETR lens finder (put in eval mode here).
    bank : StampBank
    window : int
        Window side in pixels, as in training.
    seed : int
        Seeds the scenes; the same seed gives the same scores.
    repeats : int, optional
        Windows per look-alike, each with its own flux, orientation, PSF,
        noise and colours; their top scores are averaged.
    bands : sequence of str, optional
        Bands of a multi-band network.
    scene_options : dict, optional
        More `compose_scene` options (PSF and noise ranges), as in training.
    progress : callable, optional
        Called with the number of windows done after each batch.

    Returns
    -------
    numpy.ndarray
        One score in 0-1 per ``bank.negatives``; 0 where nothing was detected.
    """
    import torch

    if not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive int, got {repeats!r}")
    n_negatives = len(bank.negatives)
    options = {key: tuple(value) if isinstance(value, list) else value for key, value in (scene_options or {}).items()}
    rng = np.random.default_rng([seed, 777_777])
    jobs = [index for _ in range(repeats) for index in range(n_negatives)]
    scores = np.zeros(n_negatives)
    network.eval()
    with torch.no_grad():
        for start in range(0, len(jobs), batch_size):
            chunk = jobs[start:start + batch_size]
            images = []
            for index in chunk:
                alone = np.zeros(n_negatives)
                alone[index] = 1.0
                # Nothing else in the window, so whatever the network finds there is this look-alike.
                scene = compose_scene(rng, bank, (window, window), n_lenses=0, n_negatives=1, n_field=0, n_stars=0,
                                      bands=tuple(bands) if bands else None, negative_weights=alone, **options)
                images.append(network_input(rng, scene))
            for index, result in zip(chunk, detect_windows(network, images, top_k=10)):
                scores[index] += float(result["scores"].max()) / repeats if len(result["scores"]) else 0.0
            if progress is not None:
                progress(start + len(chunk))
    return scores


def mined_weights(scores, share, *, power=1.0):
    """Draw probabilities for the bank's look-alikes: ``share`` by mined score, the rest uniform.

    Within the mined share a look-alike is drawn in proportion to its score
    to the ``power``: above 1 the few it nearly took for lenses gain on the
    many it scores lukewarmly.

    Raises
    ------
    ValueError
        If ``share`` is outside 0-1, ``power`` is not positive or a score is negative.
    """
    scores = np.asarray(scores, np.float64)
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
        raise ValueError(f"share must be a number within 0-1, got {share!r}")
    if isinstance(power, bool) or not isinstance(power, (int, float)) or not power > 0:
        raise ValueError(f"power must be a positive number, got {power!r}")
    if scores.ndim != 1 or not len(scores) or not scores.min() >= 0:
        raise ValueError("scores must be a non-empty list of non-negative numbers")
    scores = scores ** power
    uniform = np.full(len(scores), 1.0 / len(scores))
    if not scores.sum() > 0:  # nothing fooled the model: nothing to weight
        return uniform
    return (1.0 - share) * uniform + share * scores / scores.sum()


def score_summary(scores, kinds, *, threshold=0.5):
    """One line: mean score and the share above ``threshold`` for each kind of look-alike."""
    kinds = np.asarray(kinds)
    parts = []
    for kind in dict.fromkeys(kinds.tolist()):
        chosen = scores[kinds == kind]
        parts.append(f"{kind} mean {chosen.mean():.3f}, {np.mean(chosen >= threshold):.1%} >= {threshold}")
    return "; ".join(parts)


def mined_run_weights(model, bank, config, folder, log, *, progress=True):
    """A training run's draw probabilities for its bank's look-alikes, or None when it does not mine.

    ``config`` is a loaded lens config (``hard_negative_share``,
    ``hard_negative_power``, ``mining_repeats``, ``init_weights``, ``window``, ``bands``, ``scene``);
    ``model`` holds the starting weights. The scores are kept in ``folder``
    so that a resumed run does not mine again; ``log`` gets a line per kind.
    """
    from crclean._progress import ProgressBar

    if not config["hard_negative_share"]:
        return None
    starting = Path(str(config["init_weights"])).stem  # a model name, or a weights file's name
    path = Path(folder) / f"mined_{config['seed']}_{starting}_{config['mining_repeats']}.npy"
    scores = np.load(path) if path.is_file() else None
    if scores is None or len(scores) != len(bank.negatives):
        start = time.perf_counter()
        total = len(bank.negatives) * config["mining_repeats"]
        with ProgressBar(total, "mine look-alikes", enabled=progress) as bar:
            scores = mine_negative_scores(model, bank, window=config["window"], seed=config["seed"],
                                          repeats=config["mining_repeats"], bands=config["bands"],
                                          scene_options=config["scene"], progress=lambda done: bar.update(done - bar.done))
        np.save(path.with_suffix(".tmp.npy"), scores)
        path.with_suffix(".tmp.npy").replace(path)
        log(f"mined {len(scores)} look-alikes with {config['init_weights']} in {time.perf_counter() - start:.0f} s")
    log(f"look-alike scores: {score_summary(scores, bank.negative_kinds)}")
    return mined_weights(scores, config["hard_negative_share"], power=config["hard_negative_power"])

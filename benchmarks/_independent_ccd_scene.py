"""Sky scenes and detector defects for the independent validation generator (benchmarks only).

Part of ``_independent_cosmics.py`` (see its docstring). Made with GalSim
(Rowe et al. 2015), not with crclean's own profiles:

* **PSFs**: on the ground a Kolmogorov atmosphere, a Moffat (beta 2-5) or
  an obscured telescope's optics with small random aberrations convolved with
  a Kolmogorov atmosphere, slightly elliptical; in space an obscured Airy
  pattern (HST's 0.33 central obstruction) blurred by pointing jitter and
  charge diffusion. Each is rescaled to the drawn FWHM (before the pixel).
  Star stamps are drawn by GalSim with the pixel response at a 4x4 grid of
  sub-pixel phases; bright stars get their own wide stamps.
* **stars**: a power-law luminosity function in magnitude (N(<m) ~ 10^(alpha m),
  alpha 0.2-0.4) from 1.5 sky sigma at the peak to 50 times the full well,
  so that some saturate and bleed;
* **galaxies**: GalSim bulge (de Vaucouleurs) + disk (exponential), each
  sheared, convolved with the PSF, on a stamp large enough that its edge is
  below 0.05 sky sigma (up to 385 px);
* **sky**: a level with a gentle plane-plus-quadratic gradient (a few %);
* **defects**: hot pixels, hot and dead partial columns, and saturation that
  spills the excess charge up and down the column in an exposure-dependent
  proportion (bleed trails).

Everything is in electrons, noise-free.

References
----------
Rowe, B. T. P., et al. 2015, Astronomy and Computing, 10, 121 (GalSim).
"""

import galsim
import numpy as np

PHASES = 4  # sub-pixel phases per axis of the pre-drawn star stamps
_GSPARAMS = galsim.GSParams(maximum_fft_size=8192)
# Galaxies only: looser FFT accuracy (1% folding) makes each 3-10x faster; their light is
# background for the cosmic rays, not a measurement.
_GALAXY_GSPARAMS = galsim.GSParams(folding_threshold=1e-2, maxk_threshold=3e-3)


def _fwhm_of(profile, nominal):
    """FWHM (px) of a GalSim profile before pixelisation, measured on a grid of ``nominal`` / 30."""
    image = profile.drawImage(nx=121, ny=121, scale=nominal / 30, method="no_pixel")
    fwhm = image.calculateFWHM()
    # GalSim measures from the image's centre. Where an aberrated profile's peak lies off it (strong coma
    # and astigmatism) it reads 0 or a fraction of the width, and the PSF, dilated by nominal / fwhm, grew
    # many times too wide (rubin_like exposure 110: read 0.58 px for 8 px, so every star became a flat
    # square the size of its stamp). Then take the width of a disc as large as the area above half the peak.
    above = np.count_nonzero(image.array >= 0.5 * image.array.max())
    by_area = 2.0 * np.sqrt(above / np.pi) * image.scale
    return fwhm if 0.8 * by_area <= fwhm <= 1.25 * by_area else by_area


def make_psf(kind, fwhm, rng):
    """A GalSim PSF of ``kind`` with the given FWHM (px, pixel scale 1).

    ``kind`` is ``'kolmogorov'``, ``'moffat'``, ``'optical_atmosphere'`` or ``'airy_space'``.
    """
    if kind == "kolmogorov":
        psf = galsim.Kolmogorov(fwhm=fwhm)
    elif kind == "moffat":
        psf = galsim.Moffat(beta=rng.uniform(2.0, 5.0), fwhm=fwhm)
    elif kind == "optical_atmosphere":
        optics = galsim.OpticalPSF(lam_over_diam=fwhm * rng.uniform(0.25, 0.5), obscuration=rng.uniform(0.2, 0.45),
                                   defocus=rng.normal(0, 0.15), astig1=rng.normal(0, 0.1),
                                   astig2=rng.normal(0, 0.1), coma1=rng.normal(0, 0.08),
                                   coma2=rng.normal(0, 0.08), gsparams=_GSPARAMS)
        psf = galsim.Convolve([galsim.Kolmogorov(fwhm=fwhm * 0.85), optics], gsparams=_GSPARAMS)
    elif kind == "airy_space":
        psf = galsim.Convolve([galsim.Airy(lam_over_diam=1.0, obscuration=0.33),
                               galsim.Gaussian(sigma=rng.uniform(0.15, 0.35))], gsparams=_GSPARAMS)
    else:
        raise ValueError(f"unknown PSF kind {kind!r}")
    psf = psf.dilate(fwhm / _fwhm_of(psf, fwhm if kind != "airy_space" else 1.0))
    if kind != "airy_space":
        psf = psf.shear(g=rng.uniform(0.0, 0.06), beta=rng.uniform(0, np.pi) * galsim.radians)
    return psf


def _stamps(psf, size):
    """Pixel-integrated PSF stamps (``PHASES`` x ``PHASES``, size, size), each of unit sum."""
    out = np.empty((PHASES, PHASES, size, size))
    for i in range(PHASES):
        for j in range(PHASES):
            offset = ((j + 0.5) / PHASES - 0.5, (i + 0.5) / PHASES - 0.5)
            image = psf.drawImage(nx=size, ny=size, scale=1.0, offset=offset).array
            out[i, j] = image / image.sum()
    return out


def _add_stamps(image, x, y, flux, stamps):
    """Add ``flux`` times the phase-matched stamp at each (x, y), clipping at the edges."""
    if len(x) == 0:
        return
    size = stamps.shape[-1]
    half = size // 2
    ix, iy = np.floor(x + 0.5).astype(int), np.floor(y + 0.5).astype(int)
    pj = np.clip(((x - ix + 0.5) * PHASES).astype(int), 0, PHASES - 1)
    pi = np.clip(((y - iy + 0.5) * PHASES).astype(int), 0, PHASES - 1)
    offsets = np.arange(size) - half
    rows = iy[:, None, None] + offsets[None, :, None]
    cols = ix[:, None, None] + offsets[None, None, :]
    rows, cols = np.broadcast_arrays(rows, cols)
    weights = stamps[pi, pj] * flux[:, None, None]
    inside = (rows >= 0) & (rows < image.shape[0]) & (cols >= 0) & (cols < image.shape[1])
    flat = image.reshape(-1)
    flat += np.bincount((rows * image.shape[1] + cols)[inside], weights[inside], minlength=flat.size)


def render_scene(shape, rng, *, psf, fwhm, sky, sky_sigma, full_well, stars_per_mpix, galaxies_per_mpix,
                 galaxy_size_px):
    """Noise-free sky + stars + galaxies (e-) and the star list.

    Parameters
    ----------
    shape : tuple of int
    rng : numpy.random.Generator
    psf : galsim.GSObject
    fwhm : float
        PSF FWHM in px (sets stamp sizes).
    sky, sky_sigma : float
        Mean sky (e-) and the noise sigma of a sky pixel (e-), which sets the faintest sources.
    full_well : float
        Sets the brightest stars (peaks up to 50 times the full well).
    stars_per_mpix, galaxies_per_mpix : float
        Mean numbers per megapixel.
    galaxy_size_px : float
        Typical half-light radius of a faint galaxy disk.

    Returns
    -------
    electrons : numpy.ndarray
    stars : numpy.ndarray
        Rows of ``x, y, flux, peak`` (peak = brightest pixel of the star alone, e-).
    sources : numpy.ndarray
        Rows of ``x, y, flux`` of stars and galaxies, for hits placed on sources.
    """
    ny, nx = shape
    mpix = nx * ny / 1e6
    yy, xx = np.mgrid[0:ny, 0:nx]
    u, v = xx / max(nx - 1, 1) - 0.5, yy / max(ny - 1, 1) - 0.5
    a, b, c = rng.normal(0, 0.03, 3)
    image = sky * (1.0 + a * u + b * v + c * (u ** 2 + v ** 2))

    size = int(2 * np.ceil(4 * fwhm) + 1)
    stamps = _stamps(psf, size)
    peak_fraction = stamps.max(axis=(2, 3)).mean()
    faint = 1.5 * sky_sigma / peak_fraction
    brightest = 50.0 * full_well / peak_fraction
    n_stars = rng.poisson(stars_per_mpix * mpix)
    alpha = rng.uniform(0.2, 0.4)
    # N(<m) ~ 10^(alpha m): fluxes F = F_faint * U^(-0.4/alpha), truncated at the brightest.
    u_low = (brightest / faint) ** (-alpha / 0.4)
    flux = faint * rng.uniform(u_low, 1.0, n_stars) ** (-0.4 / alpha)
    x, y = rng.uniform(-0.5, nx - 0.5, n_stars), rng.uniform(-0.5, ny - 0.5, n_stars)
    bright = flux * peak_fraction > 0.02 * full_well
    _add_stamps(image, x[~bright], y[~bright], flux[~bright], stamps)
    if bright.any():
        wide = _stamps(psf, int(min(2 * np.ceil(25 * fwhm) + 1, 2 * (max(shape) // 2) + 1)))
        _add_stamps(image, x[bright], y[bright], flux[bright], wide)
    stars = np.column_stack([x, y, flux, flux * peak_fraction])

    # Galaxies are convolved with the PSF sampled at FWHM/6 over 16 FWHM (an interpolated image),
    # which GalSim convolves far faster than an optical PSF itself.
    psf_grid = galsim.InterpolatedImage(psf.drawImage(nx=96, ny=96, scale=fwhm / 6, method="no_pixel"),
                                        gsparams=_GALAXY_GSPARAMS)
    n_gal = rng.poisson(galaxies_per_mpix * mpix)
    gx, gy = rng.uniform(0, nx, n_gal), rng.uniform(0, ny, n_gal)
    g_faint = 3.0 * sky_sigma * galaxy_size_px ** 2
    g_flux = g_faint * rng.uniform(1e-3, 1.0, n_gal) ** (-1.0 / 0.9)  # N(>F) ~ F^-0.9
    for xg, yg, fg in zip(gx, gy, g_flux):
        disk_r = galaxy_size_px * np.exp(rng.normal(0, 0.35)) * (fg / g_faint) ** 0.12
        bulge_fraction = rng.uniform(0.0, 0.8)
        disk = galsim.Exponential(half_light_radius=disk_r, flux=fg * (1 - bulge_fraction))
        disk = disk.shear(e=rng.uniform(0, 0.75), beta=rng.uniform(0, np.pi) * galsim.radians)
        bulge = galsim.DeVaucouleurs(half_light_radius=disk_r * rng.uniform(0.15, 0.5), flux=fg * bulge_fraction)
        bulge = bulge.shear(e=rng.uniform(0, 0.3), beta=rng.uniform(0, np.pi) * galsim.radians)
        galaxy = galsim.Convolve([bulge + disk, psf_grid], gsparams=_GALAXY_GSPARAMS)
        cx, cy = int(round(xg)), int(round(yg))
        stamp = galaxy_stamp(galaxy, int(np.ceil(6 * disk_r + 3 * fwhm)), (xg - cx, yg - cy), sky_sigma)
        _add_window(image, stamp, cy, cx)
    sources = np.vstack([stars[:, :3], np.column_stack([gx, gy, g_flux])])
    return image, stars, sources


GALAXY_EDGE_SIGMA = 0.05  # a galaxy stamp grows until its edge is this far below the sky noise
GALAXY_MAX_HALF = 192  # ... or until it is 385 px wide


def galaxy_stamp(galaxy, half, offset, sky_sigma):
    """Draw ``galaxy`` on a (2 half + 1)^2 stamp, doubled until its border is below ``GALAXY_EDGE_SIGMA``.

    A stamp sized by the galaxy's radius alone cuts the wings of bright galaxies: a 1e7 e- galaxy ended
    ~90 e- above the sky in a straight, sharp edge, which is a shape no real frame has and which a
    mask model may fairly flag. Doubling stops at ``GALAXY_MAX_HALF``.
    """
    half = max(int(half), 1)
    while True:
        stamp = galaxy.drawImage(nx=2 * half + 1, ny=2 * half + 1, scale=1.0, offset=offset).array
        border = max(np.abs(stamp[[0, -1], :]).max(), np.abs(stamp[:, [0, -1]]).max())
        if border < GALAXY_EDGE_SIGMA * sky_sigma or half >= GALAXY_MAX_HALF:
            return stamp
        half = min(2 * half, GALAXY_MAX_HALF)


def _add_window(image, stamp, cy, cx):
    """Add ``stamp`` centred on pixel (cy, cx), clipped at the image edges."""
    half_y, half_x = stamp.shape[0] // 2, stamp.shape[1] // 2
    y0, x0 = cy - half_y, cx - half_x
    ys, xs = max(y0, 0), max(x0, 0)
    ye, xe = min(y0 + stamp.shape[0], image.shape[0]), min(x0 + stamp.shape[1], image.shape[1])
    if ye > ys and xe > xs:
        image[ys:ye, xs:xe] += stamp[ys - y0:ye - y0, xs - x0:xe - x0]


def defects(shape, rng, *, exptime, hot_fraction, columns_per_kcol):
    """Hot pixels and bad columns: ``(scale, offset, mask)`` applied as ``electrons * scale + offset``."""
    scale, offset = np.ones(shape), np.zeros(shape)
    n_hot = rng.poisson(hot_fraction * shape[0] * shape[1])
    hot_r, hot_c = rng.integers(0, shape[0], n_hot), rng.integers(0, shape[1], n_hot)
    # Dark current of hot pixels: log-uniform 0.5-50 e-/s.
    offset[hot_r, hot_c] += np.exp(rng.uniform(np.log(0.5), np.log(50.0), n_hot)) * exptime
    for _ in range(rng.poisson(columns_per_kcol * shape[1] / 1000)):
        col = rng.integers(0, shape[1])
        start = rng.integers(0, shape[0])
        rows = slice(start, None) if rng.uniform() < 0.5 else slice(0, start + 1)
        if rng.uniform() < 0.5:
            offset[rows, col] += rng.uniform(50.0, 2000.0)
        else:
            scale[rows, col] *= rng.uniform(0.0, 0.4)
    mask = (scale != 1.0) | (offset != 0.0)
    return scale, offset, mask


def bleed(electrons, full_well, up_share):
    """Clip at ``full_well`` and push each column's excess along it: ``up_share`` up, the rest down.

    Charge pushed past the ends of the column is lost (it reaches the serial
    register in a real CCD, which this does not model).

    Returns
    -------
    bled : numpy.ndarray
    saturated : numpy.ndarray of bool
        Pixels at the full well.
    """
    out = np.minimum(electrons, full_well)
    over = np.flatnonzero((electrons > full_well).any(axis=0))
    for col in over:
        excess = np.maximum(electrons[:, col] - full_well, 0.0)
        column = out[:, col]
        for share, order in ((up_share, range(len(column))), (1.0 - up_share, range(len(column) - 1, -1, -1))):
            carried = 0.0
            for row in order:
                room = full_well - column[row]
                if carried > 0 and room > 0:
                    taken = min(room, carried)
                    column[row] += taken
                    carried -= taken
                carried += share * excess[row]
        out[:, col] = column
    return out, out >= full_well * (1 - 1e-9)

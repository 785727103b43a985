"""Cosmic-ray charge in a CCD for the independent validation generator (benchmarks only).

Part of ``_independent_cosmics.py`` (see its docstring). Written apart from
crclean's training simulator, with other physics on purpose, so that a model
which only learned that simulator's hits is caught out:

* **energy loss** of a charged particle is drawn per micron-scale segment of
  its path from the Landau distribution (``scipy.stats.landau``) with
  Bichsel's most probable value and width for thin silicon, cut at the energy
  above which a knocked-on electron is followed explicitly;
* **delta rays**: those knocked-on electrons (kinetic energy from the ``1/T^2``
  spectrum, emitted at the kinematic angle) and Compton electrons from gamma
  rays are transported step by step: continuous slowing down along a
  Kanaya-Okayama range and Highland multiple scattering, so they curl and
  deposit more charge as they stop, and leave the silicon when they reach a
  surface;
* **diffusion** of each charge packet comes from its drift time in a linearly
  falling field across the depleted layer (the field of a uniformly doped,
  over-depleted sensor), ``sigma^2 = 2 (kT/q) int dz / E(z)``, plus a
  field-free layer behind it where charge spreads about as far sideways as it
  travels and partly recombines;
* **rasterisation**: each packet's Gaussian is sampled on a grid of
  ``SUPERSAMPLE`` sub-pixels per pixel side and summed into pixels;
* **x-rays, alphas, heavy ions**: point absorptions at an energy-dependent
  depth, 4-8 MeV alphas from the package (Bragg-like curves), and in space an
  LET power law for ions heavier than helium.

Depths ``z`` are microns from the collecting gates (``z = 0``) to the back
surface (``z = sensor.thickness_um``). Positions are pixels (centre of pixel
``j`` at ``j``). Charges are electrons.

References
----------
Bichsel, H. 1988, Rev. Mod. Phys. 60, 663 (straggling in thin silicon).
Landau, L. 1944, J. Phys. USSR 8, 201.
Holland, S. E., et al. 2003, IEEE Trans. Electron Devices 50, 225 (fully depleted CCDs).
Kanaya, K., & Okayama, S. 1972, J. Phys. D 5, 43 (electron range).
Highland, V. L. 1975, Nucl. Instrum. Meth. 129, 497 (multiple scattering).
Particle Data Group, "Passage of particles through matter" (delta-ray spectrum).
"""

from dataclasses import dataclass

import numpy as np
from scipy.stats import landau

E_PAIR_EV = 3.65            # energy per electron-hole pair in silicon
XI_EV_PER_UM = 17.8         # Landau width per micron: 0.1535 MeV cm^2/g * Z/A (0.4985) * 2.33 g/cm^3
I_SILICON_EV = 173.0        # mean excitation energy
TWO_ME_C2_EV = 1.022e6
ME_C2_KEV = 511.0
X0_SILICON_UM = 93.7e3      # radiation length
KT_OVER_Q_PER_K = 8.617e-5  # V per kelvin
LANDAU_MODE = -0.4293       # mode of the standard scipy.stats.landau
RANGE_A_UM, RANGE_POWER = 0.0318, 1.67  # Kanaya-Okayama in Si: R = a * T(keV)**p
DELTA_CUT_KEV = 10.0        # transfers above this are delta rays followed explicitly (range ~1.5 um)
DELTA_MAX_KEV = 600.0       # ~0.8 mm range: longer ones leave any sensor
SUPERSAMPLE = 7


@dataclass(frozen=True)
class Sensor:
    """Geometry and fields of a back-illuminated CCD.

    Attributes
    ----------
    pitch_um : float
        Pixel pitch.
    depleted_um : float
        Depleted (drift) layer next to the gates.
    field_free_um : float
        Undepleted layer behind it (0 for a fully depleted sensor).
    bias_volts : float
        Voltage across the depleted layer.
    field_ratio : float
        Field at the back of the depleted layer over the field at the gates, in (0, 1).
    temperature_k : float
        Operating temperature.
    recombination_um : float
        Length over which charge made in the field-free layer recombines.
    """

    pitch_um: float
    depleted_um: float
    field_free_um: float
    bias_volts: float
    field_ratio: float
    temperature_k: float
    recombination_um: float = 60.0

    @property
    def thickness_um(self):
        return self.depleted_um + self.field_free_um

    def sigma_um(self, z_um):
        """Lateral diffusion sigma (um) of charge made at depth ``z_um``."""
        z = np.clip(np.asarray(z_um, dtype=np.float64), 0.0, self.thickness_um)
        d, r = self.depleted_um, self.field_ratio
        # E(z) = E0 (1 - (1 - r) z / d), with E0 set so that int_0^d E dz = bias_volts.
        e0 = 2.0 * self.bias_volts / (d * (1.0 + r))
        inside = np.minimum(z, d)
        drift = -d / (e0 * (1.0 - r)) * np.log1p(-(1.0 - r) * inside / d)
        sigma2 = 2.0 * KT_OVER_Q_PER_K * self.temperature_k * drift
        # In the field-free layer charge random-walks to the depletion edge: its sideways
        # spread is about the distance it has to go (0.7 of it, for a 3-D walk to a plane).
        sigma2 = sigma2 + (0.7 * np.maximum(z - d, 0.0)) ** 2
        return np.sqrt(sigma2)

    def collected(self, z_um):
        """Fraction of charge made at ``z_um`` that reaches the gates."""
        return np.exp(-np.maximum(np.asarray(z_um, dtype=np.float64) - self.depleted_um, 0.0)
                      / self.recombination_um)


def landau_electrons(path_um, rng, *, charge_sq=1.0, beta_gamma=30.0):
    """Electrons from Landau energy loss over path segments (arrays broadcast together).

    The distribution is cut where a single transfer exceeds `DELTA_CUT_KEV`;
    those transfers are drawn as delta rays instead (`delta_rays`).
    """
    path_um = np.asarray(path_um, dtype=np.float64)
    bg2 = np.minimum(np.asarray(beta_gamma, dtype=np.float64), 30.0) ** 2  # Fermi plateau
    beta2 = bg2 / (1.0 + bg2)
    xi = XI_EV_PER_UM * charge_sq / beta2 * path_um
    mpv = xi * (np.log(TWO_ME_C2_EV * bg2 / I_SILICON_EV) + np.log(xi / I_SILICON_EV) + 0.2 - beta2)
    top = landau.cdf(DELTA_CUT_KEV * 1e3 / xi)
    lam = landau.ppf(rng.uniform(size=np.broadcast(path_um, xi).shape) * top)
    return np.maximum(mpv + xi * (lam - LANDAU_MODE), 0.0) / E_PAIR_EV


def straight_tracks(x_mid, y_mid, incidence, azimuth, sensor, rng, *, charge_sq=1.0, beta_gamma=30.0,
                    max_length_px=np.inf, step_um=1.0):
    """Charge packets of straight tracks through the whole sensor, and their delta rays' seeds.

    Parameters
    ----------
    x_mid, y_mid, incidence, azimuth : numpy.ndarray
        Track midpoints (px), angles from the sensor normal and in the plane (rad).
    sensor : Sensor
    rng : numpy.random.Generator
    charge_sq, beta_gamma : float or numpy.ndarray
        Particle charge squared and momentum over mass, per track.
    max_length_px : float
        Projected lengths are capped here (grazing tracks).
    step_um : float
        Path per Landau segment (packets are also at most 0.3 px apart).

    Returns
    -------
    packets : tuple of numpy.ndarray
        ``(x, y, z, electrons)``.
    seeds : tuple of numpy.ndarray
        Delta rays: ``(x_um, y_um, z_um, direction (n, 3), energy_kev)``.
    """
    n = len(x_mid)
    charge_sq = np.broadcast_to(np.asarray(charge_sq, np.float64), (n,))
    beta_gamma = np.broadcast_to(np.asarray(beta_gamma, np.float64), (n,))
    t = sensor.thickness_um
    max_tan = max_length_px * sensor.pitch_um / t
    tan = np.minimum(np.tan(incidence), max_tan)
    length_px = t * tan / sensor.pitch_um
    path_um = t * np.sqrt(1.0 + tan ** 2)
    # Segments of ``step_um`` (at most 64 of them: longer steps are still Landau draws, with a
    # wider xi), and never more than 0.3 px apart on the image.
    n_seg = np.maximum(np.ceil(np.maximum(np.minimum(path_um / step_um, 64), length_px / 0.3)), 1).astype(int)
    track = np.repeat(np.arange(n), n_seg)
    first = np.cumsum(n_seg) - n_seg
    s = (np.arange(track.size) - first[track] + 0.5) / n_seg[track] - 0.5  # -0.5..0.5 along the track
    cos_a, sin_a = np.cos(azimuth)[track], np.sin(azimuth)[track]
    x = x_mid[track] + s * length_px[track] * cos_a
    y = y_mid[track] + s * length_px[track] * sin_a
    z = t * (0.5 - s)  # enters at the back (light side), leaves at the gates
    electrons = landau_electrons(path_um[track] / n_seg[track], rng, charge_sq=charge_sq[track],
                                 beta_gamma=beta_gamma[track])

    # Delta rays: dN/dT = (xi / x) / T^2 per micron, T between the cut and the kinematic maximum.
    bg2 = np.minimum(beta_gamma, 30.0) ** 2
    xi_per_um = XI_EV_PER_UM * charge_sq * (1.0 + bg2) / bg2 / 1e3  # keV/um
    t_max = np.minimum(DELTA_MAX_KEV, 2 * ME_C2_KEV * bg2)
    mean = path_um * xi_per_um * np.maximum(1.0 / DELTA_CUT_KEV - 1.0 / t_max, 0.0)
    n_delta = rng.poisson(mean)
    owner = np.repeat(np.arange(n), n_delta)
    u = rng.uniform(size=owner.size)
    energy = 1.0 / (1.0 / DELTA_CUT_KEV - u * (1.0 / DELTA_CUT_KEV - 1.0 / t_max[owner]))
    where = rng.uniform(-0.5, 0.5, owner.size)
    x_um = (x_mid[owner] + where * length_px[owner] * np.cos(azimuth[owner])) * sensor.pitch_um
    y_um = (y_mid[owner] + where * length_px[owner] * np.sin(azimuth[owner])) * sensor.pitch_um
    z_um = t * (0.5 - where)
    inc = np.arctan(tan[owner])
    axis = np.stack([np.sin(inc) * np.cos(azimuth[owner]), np.sin(inc) * np.sin(azimuth[owner]), -np.cos(inc)], 1)
    # Emission angle to the track for a fast primary: cos^2 = T / (T + 2 m c^2).
    polar = np.arccos(np.sqrt(energy / (energy + 2 * ME_C2_KEV)))
    direction = _turn(axis, polar, rng.uniform(0, 2 * np.pi, owner.size))
    return (x, y, z, electrons), (x_um, y_um, z_um, direction, energy)


def _turn(direction, polar, phase):
    """Unit vectors at angle ``polar`` from ``direction``, at azimuth ``phase`` around it."""
    helper = np.where(np.abs(direction[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    e1 = np.cross(direction, helper)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(direction, e1)
    return (np.cos(polar)[:, None] * direction
            + np.sin(polar)[:, None] * (np.cos(phase)[:, None] * e1 + np.sin(phase)[:, None] * e2))


def electron_walks(x_um, y_um, z_um, direction, energy_kev, sensor, rng, *, step_um=1.0, max_steps=400):
    """Charge packets of electrons slowing down and scattering in the silicon.

    Electrons walk in groups of similar range: each takes its range in a
    power-of-two number of steps (about ``step_um`` each, at most
    ``max_steps``), losing energy along the Kanaya-Okayama range-energy
    relation and turning by a Highland angle per step; it stops depositing
    once it leaves the silicon. Returns ``(x, y, z, electrons)`` with x, y in pixels.
    """
    energy_kev = np.asarray(energy_kev, np.float64)
    rng_um = RANGE_A_UM * energy_kev ** RANGE_POWER
    # Electrons walk in groups of similar range (powers of two in steps), so short ones take few steps.
    steps_needed = np.clip(np.ceil(rng_um / step_um), 8, max_steps)
    group = np.ceil(np.log2(steps_needed)).astype(int)
    parts = [(np.zeros(0),) * 4]
    for g in np.unique(group):
        i = np.flatnonzero(group == g)
        parts.append(_walk(np.asarray(x_um)[i], np.asarray(y_um)[i], np.asarray(z_um)[i],
                           np.asarray(direction)[i], rng_um[i], int(min(2 ** g, max_steps)), sensor, rng))
    return tuple(np.concatenate(p) for p in zip(*parts))


def _walk(x_um, y_um, z_um, direction, rng_um, n_steps, sensor, rng):
    """`electron_walks` for electrons that all take ``n_steps`` steps."""
    step = rng_um / n_steps
    pos = np.stack([x_um, y_um, z_um], 1).astype(np.float64)
    d = np.asarray(direction, np.float64)
    alive = np.ones(len(rng_um), bool)
    out = []
    for k in range(n_steps):
        left_before = rng_um - k * step
        t_before = (left_before / RANGE_A_UM) ** (1 / RANGE_POWER)
        t_after = (np.maximum(left_before - step, 0.0) / RANGE_A_UM) ** (1 / RANGE_POWER)
        middle = pos + 0.5 * step[:, None] * d
        alive &= (middle[:, 2] >= 0.0) & (middle[:, 2] <= sensor.thickness_um)
        out.append(np.column_stack([middle, np.where(alive, (t_before - t_after) * 1e3 / E_PAIR_EV, 0.0)]))
        pos = pos + step[:, None] * d
        pc = np.sqrt(t_after ** 2 + 2 * ME_C2_KEV * t_after) / 1e3 + 1e-6  # MeV
        beta = pc / (t_after / 1e3 + ME_C2_KEV / 1e3)
        ratio = step / X0_SILICON_UM
        theta0 = 13.6 / (beta * pc) * np.sqrt(ratio) * np.maximum(1 + 0.038 * np.log(ratio), 0.3)
        d = _turn(d, np.minimum(rng.rayleigh(np.minimum(theta0, 1.5)), np.pi), rng.uniform(0, 2 * np.pi, len(d)))
    packets = np.concatenate(out)
    packets = packets[packets[:, 3] > 0]
    return packets[:, 0] / sensor.pitch_um, packets[:, 1] / sensor.pitch_um, packets[:, 2], packets[:, 3]


def isotropic_electrons(n, shape, sensor, rng, energy_kev):
    """Seeds of electrons (Compton or secondary) starting anywhere in the silicon, any direction."""
    cos_t = rng.uniform(-1, 1, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    sin_t = np.sqrt(1 - cos_t ** 2)
    direction = np.stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t], 1)
    return (rng.uniform(0, shape[1], n) * sensor.pitch_um, rng.uniform(0, shape[0], n) * sensor.pitch_um,
            rng.uniform(0, sensor.thickness_um, n), direction, energy_kev)


def xray_spots(n, shape, sensor, rng):
    """Point absorptions of 1.5-20 keV x-rays (fluorescence, Compton-scattered gammas).

    The depth follows the absorption length, ~30 um at 6 keV scaling as E^2.8,
    from the back surface; photons that pass through are drawn again.
    Returns ``(x, y, z, electrons)``.
    """
    energy = np.exp(rng.uniform(np.log(1.5), np.log(20.0), n))
    length = 30.0 * (energy / 6.0) ** 2.8
    depth = -length * np.log1p(-rng.uniform(size=n) * (1 - np.exp(-sensor.thickness_um / length)))
    return (rng.uniform(0, shape[1], n), rng.uniform(0, shape[0], n), sensor.thickness_um - depth,
            energy * 1e3 / E_PAIR_EV)


def alpha_tracks(n, shape, sensor, rng):
    """4-8 MeV alphas from the package entering either surface: short, very bright Bragg tracks."""
    energy_mev = rng.uniform(4.0, 8.0, n)
    range_um = 1.85 * energy_mev ** 1.65  # ~30 um at 5.5 MeV
    from_back = rng.uniform(size=n) < 0.5
    cos_in = np.sqrt(rng.uniform(size=n))  # cosine-weighted flux through the surface
    phi = rng.uniform(0, 2 * np.pi, n)
    steps = 40
    frac = (np.arange(steps) + 0.5) / steps
    left = 1 - frac[None, :]
    deposit = (np.power(left + 0.5 / steps, 1 / 1.65) - np.power(np.maximum(left - 0.5 / steps, 0), 1 / 1.65))
    s_um = frac[None, :] * range_um[:, None]
    lateral = s_um * np.sqrt(1 - cos_in[:, None] ** 2) / sensor.pitch_um
    x = rng.uniform(0, shape[1], n)[:, None] + lateral * np.cos(phi)[:, None]
    y = rng.uniform(0, shape[0], n)[:, None] + lateral * np.sin(phi)[:, None]
    z = np.where(from_back[:, None], sensor.thickness_um - s_um * cos_in[:, None], s_um * cos_in[:, None])
    electrons = deposit * (energy_mev * 1e6 / E_PAIR_EV)[:, None]
    inside = (z >= 0) & (z <= sensor.thickness_um)
    return x[inside], y[inside], z[inside], electrons[inside]


def rasterise(shape, x, y, z, electrons, sensor, *, supersample=SUPERSAMPLE, chunk=20000):
    """Charge map (e-) of diffused packets, sampled on ``supersample`` sub-pixels per pixel side.

    A packet's Gaussian is separable, so its sub-pixel samples along each axis
    are summed into pixels and the two 1-D profiles multiplied; each stamp
    (3.5 sigma, at least one pixel, around the packet) is normalised to the
    packet's charge, and charge falling off the image is lost.
    """
    image = np.zeros(shape[0] * shape[1])
    margin = 10.0
    keep = ((electrons > 0) & (x > -margin) & (x < shape[1] + margin) & (y > -margin) & (y < shape[0] + margin))
    x, y, z = x[keep], y[keep], z[keep]
    charge = electrons[keep] * sensor.collected(z)
    sigma = np.maximum(sensor.sigma_um(z) / sensor.pitch_um, 0.02)
    x, y, sigma, charge = _merge(x, y, sigma, charge, supersample)
    radius = np.ceil(3.5 * sigma + 0.5).astype(int)
    for r in np.unique(radius):
        pick = np.flatnonzero(radius == r)
        width = 2 * r + 1
        sub = (np.arange(width * supersample) + 0.5) / supersample - r - 0.5  # sub-pixel centres
        for start in range(0, pick.size, chunk):
            i = pick[start:start + chunk]
            cx, cy = np.rint(x[i]).astype(int), np.rint(y[i]).astype(int)
            gx = np.exp(-0.5 * ((cx - x[i])[:, None] + sub[None, :]) ** 2 / sigma[i, None] ** 2)
            gy = np.exp(-0.5 * ((cy - y[i])[:, None] + sub[None, :]) ** 2 / sigma[i, None] ** 2)
            px = gx.reshape(len(i), width, supersample).sum(2)
            py = gy.reshape(len(i), width, supersample).sum(2)
            norm = px.sum(1) * py.sum(1)
            weights = py[:, :, None] * px[:, None, :] * (charge[i] / norm)[:, None, None]
            rows = cy[:, None, None] + np.arange(-r, r + 1)[None, :, None]
            cols = cx[:, None, None] + np.arange(-r, r + 1)[None, None, :]
            rows, cols = np.broadcast_arrays(rows, cols)
            inside = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
            image += np.bincount((rows * shape[1] + cols)[inside], weights[inside], minlength=image.size)
    return image.reshape(shape)


def _merge(x, y, sigma, charge, supersample):
    """Packets merged where they share a sub-pixel and a sigma within 2%: the sampled image barely
    changes (positions are sampled at sub-pixel resolution anyway) and dense hits rasterise far faster."""
    if x.size == 0:
        return x, y, sigma, charge
    qx = np.floor(x * supersample).astype(np.int64)
    qy = np.floor(y * supersample).astype(np.int64)
    qs = np.floor(np.log(sigma) / 0.02).astype(np.int64)
    keys = np.stack([qx, qy, qs], 1)
    _, index, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    total = np.bincount(inverse, charge)
    # Charge-weighted mean position and sigma of each merged packet.
    mean = [np.bincount(inverse, v * charge) / total for v in (x, y, sigma)]
    return mean[0], mean[1], mean[2], total

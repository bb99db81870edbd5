"""From calibration rows to a profile file: which chip was measured, the fit, and what is written.

No torch here: this runs on recorded rows (a calibrate output or shared/data/h100).

The chip: a CUDA device whose name matches a catalog entry uses that entry's datasheet figures
(the fitted fractions are of datasheet figures, as for the shipped profiles). Any other device
(a CPU, an unknown GPU) gets a spec built from its own measurements and labelled as such:

    peak_flop_per_s[bf16] = best measured GEMM FLOP/s / 0.7   (large GEMMs reach ~70% of peak)
    hbm_bytes_per_s       = measured copy bytes/s / 0.8       (a copy reaches ~80% of peak)

The 0.7 and 0.8 put the fitted fractions near the range of datasheet-based profiles
(torch-eager on H100: compute_frac 0.73, hbm_frac 0.85); they are conventions, not measurements.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import yaml

from ..errors import CalibrationError
from ..loaders.engines import load_engine
from ..loaders.hardware import hardware_ids, hardware_to_catalog, load_hardware
from ..spec.engine import EngineProfile
from ..spec.hardware import HardwareSpec
from .fit import fit_profile, round_profile

PEAK_SHARE = 0.7        # best measured GEMM rate / peak, assumed for a chip without a datasheet entry
COPY_SHARE = 0.8        # measured copy bandwidth / peak bandwidth, same

# (substrings that must all appear in the device name, catalog id); first match wins
CATALOG_NAMES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("GB300",), "gb300"), (("GB200",), "gb200"), (("B300",), "b300"), (("B200",), "b200"),
    (("H200",), "h200-sxm"),
    (("H100", "HBM3"), "h100-sxm"), (("H100", "SXM"), "h100-sxm"),
    (("A100", "SXM", "80GB"), "a100-sxm"),
    (("L40S",), "l40s"),
    (("MI355X",), "mi355x"), (("MI325X",), "mi325x"), (("MI300X",), "mi300x"),
)


def catalog_hardware_id(device_name: str | None) -> str | None:
    """The catalog id for a device name as torch or NVML reports it, or None."""
    up = (device_name or "").upper()
    if any(x in up for x in ("PCIE", " NVL")):   # PCIe and NVL boards differ in bandwidth and power
        return None
    for parts, hw_id in CATALOG_NAMES:
        if all(p in up for p in parts):
            return hw_id
    return None


def env_row(rows) -> dict:
    return next((r for r in rows if r.get("kind") == "env"), {})


def measured_hardware(rows) -> HardwareSpec:
    """A spec of the measured device from its own rows (see the module docstring)."""
    env = env_row(rows)
    copy = [r["bytes_per_s"] for r in rows if r.get("kind") == "copy_bw"]
    rates: dict[str, list[float]] = {}
    for r in rows:
        if r.get("kind") == "gemm":
            rates.setdefault(r.get("dtype", "bf16"), []).append(2.0 * r["m"] * r["n"] * r["k"] / r["s"])
        elif r.get("kind") == "gemm_peak":
            rates.setdefault("bf16", []).append(r.get("flops") or 2.0 * r["m"] * r["n"] * r["k"] / r["s"])
    if not copy or not rates.get("bf16"):
        raise CalibrationError("The measurements lack copy_bw or bf16 GEMM rows, so the device cannot be described; "
                               "pass --hardware with a catalog id or a YAML file.")
    is_cpu = env.get("device") == "cpu"
    hw_id = "cpu-local" if is_cpu else "gpu-local"
    src = f"measured by tokenomy calibrate on {env.get('name', 'this device')}"
    fields = dict(
        id=hw_id, name=f"{env.get('name', 'local device')} (measured)", vendor="local",
        kind="cpu" if is_cpu else "gpu",
        peak_flop_per_s={d: max(v) / PEAK_SHARE for d, v in rates.items() if d in ("bf16", "fp8")},
        hbm_bytes=float(env.get("mem_bytes") or 0.0), hbm_bytes_per_s=max(copy) / COPY_SHARE,
        compute_units=int(env.get("sms") or env.get("cores") or os.cpu_count() or 1),
        power_limit_w=env.get("power_limit_w"), idle_power_w=env.get("idle_power_w"),
        clock_hz=env["sm_clock_max_mhz"] * 1e6 if env.get("sm_clock_max_mhz") else None,
        sources={"peak_flop_per_s": f"{src}: best GEMM FLOP/s / {PEAK_SHARE}",
                 "hbm_bytes_per_s": f"{src}: copy bytes/s / {COPY_SHARE}",
                 "hbm_bytes": f"{src}: device memory", "compute_units": f"{src}: SMs or CPU cores"},
    )
    return HardwareSpec(**fields)


def hardware_for(rows, override: str | HardwareSpec | None = None) -> HardwareSpec:
    """``override`` (catalog id, YAML file or spec), else the catalog entry matching the device name,
    else a spec measured from the rows."""
    if isinstance(override, HardwareSpec):
        return override
    if override:
        return load_hardware(override)
    env = env_row(rows)
    hw_id = catalog_hardware_id(env.get("name")) if env.get("device", "cuda") == "cuda" else None
    return load_hardware(hw_id) if hw_id else measured_hardware(rows)


def calibrated_profile(rows, hw: HardwareSpec, *, name: str | None = None,
                       base: str | EngineProfile = "torch-eager") -> tuple[EngineProfile, dict]:
    """Fit the torch-eager kernel model to ``rows`` on ``hw`` (calibrate/fit.py, as for the shipped profile)."""
    env = env_row(rows)
    b = base if isinstance(base, EngineProfile) else load_engine(base)
    measured = "figures measured on the device itself" if hw.vendor == "local" else "catalog datasheet figures"
    update: dict = dict(calibrated_hardware=[],
                        description=(f"Plain PyTorch eager (the torch-eager kernel list), calibrated on "
                                     f"{env.get('name', hw.name)} by tokenomy calibrate."),
                        assumptions=[*b.assumptions[:3],
                                     f"Fractions are of the figures of {hw.id} ({measured}); measured in "
                                     f"{env.get('device', 'cuda')} bf16 with random weights."])
    fixed = [r["s"] for r in rows if r.get("kind") == "kernel_fixed"]
    if fixed:   # the measured launch gap starts the step fit (and stays if there are no model rows)
        update["kernel_fixed_s"] = float(fixed[0])
    b = b.model_copy(update=update)
    source = f"tokenomy calibrate, {date.today().isoformat()}, {env.get('name', hw.name)} ({hw.id})"
    return fit_profile(rows, hw, b, name=name or f"calibrated-{hw.id}", source=source)


def device_info(rows, hw: HardwareSpec, *, is_catalog: bool, errors: dict | None = None) -> dict:
    env = env_row(rows)
    info = {k: env.get(k) for k in ("device", "name", "driver", "torch", "cuda", "cc", "sms", "cores", "mem_bytes")
            if env.get(k) is not None}
    info["hardware"] = hw.id
    if not is_catalog:
        info["hardware_spec"] = json.loads(hw.model_dump_json())
    if errors:
        info["fit_mean_abs_rel_error"] = {k: (None if v != v else round(v, 4)) for k, v in errors.items()}
    return info


def output_paths(out: str | Path) -> dict[str, Path]:
    """The files a calibrate run writes for ``out``: the profile, the raw rows and (for a chip outside
    the catalog) its hardware YAML."""
    out = Path(out)
    return {"profile": out, "measurements": out.with_suffix(".jsonl"),
            "hardware_file": out.with_name(out.stem + ".hardware.yaml")}


def profile_contents(out: str | Path, rows: list[dict], *, hardware: str | None = None,
                     name: str | None = None) -> tuple[dict[Path, str], dict]:
    """Fit the profile and return the texts to write ({path: text}: ``out`` as JSON with profile
    fields + device + measurements, the raw rows as ``<out stem>.jsonl`` and, for a chip outside the
    catalog, ``<out stem>.hardware.yaml``) and a summary: paths, hardware id, fit errors.

    Nothing is written here: ``tokenomy.report.files.write_files`` writes the set, all or nothing.
    """
    paths = output_paths(out)
    hw = hardware_for(rows, hardware)
    is_catalog = hw.id in hardware_ids() and (hardware in hardware_ids() if hardware else
                                              catalog_hardware_id(env_row(rows).get("name")) == hw.id)
    prof, errs = calibrated_profile(rows, hw, name=name)
    data = round_profile(prof)
    data["device"] = device_info(rows, hw, is_catalog=is_catalog, errors=errs)
    data["measurements"] = rows
    texts = {paths["profile"]: json.dumps(data, indent=1) + "\n",
             paths["measurements"]: "".join(json.dumps(r) + "\n" for r in rows)}
    summary = {"profile": str(paths["profile"]), "measurements": str(paths["measurements"]), "hardware": hw.id,
               "name": prof.name, "fit_errors": errs, "hardware_file": None}
    if not is_catalog:
        texts[paths["hardware_file"]] = ("# Written by tokenomy calibrate: figures measured on this device, not a "
                                         "datasheet.\n" + yaml.safe_dump(hardware_to_catalog(hw), sort_keys=False))
        summary["hardware_file"] = str(paths["hardware_file"])
    return texts, summary


def write_profile(out: str | Path, rows: list[dict], *, hardware: str | None = None,
                  name: str | None = None, force: bool = False) -> dict:
    """Fit and write the files of ``profile_contents`` all or nothing, never over an existing file
    unless ``force``. Returns the summary."""
    from ..report.files import write_files

    texts, summary = profile_contents(out, rows, hardware=hardware, name=name)
    write_files(texts, flag="--out", force=force)
    return summary

"""What ``tokenomy calibrate`` records about the device: the ``env`` row (name, memory, clocks, idle
power), NVML access for power and energy, and whether fp8 GEMMs can run. Needs no torch import:
the torch module is passed in."""

from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Any


def cpu_name() -> str:
    """The CPU model name from /proc/cpuinfo, else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


def ram_bytes() -> float | None:
    """Physical memory of this machine, bytes (None when the OS does not say)."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def nvml() -> tuple[Any, Any]:
    """(pynvml module, handle of GPU 0) or (None, None)."""
    try:
        import pynvml as nv
        nv.nvmlInit()
        return nv, nv.nvmlDeviceGetHandleByIndex(0)
    except Exception:   # not installed, no driver, or no NVML on this GPU: energy rows are skipped
        return None, None


def env_row(torch: Any, device: str, small: bool, nv: Any = None, handle: Any = None) -> dict:
    """The ``env`` row: device name, memory and versions; on CUDA with NVML also clocks, power limit and
    idle power (W, median of 10 samples over 0.3 s, taken before any heavy work)."""
    t = torch
    row: dict = dict(kind="env", device=device, torch=t.__version__, small=small)
    if device == "cuda":
        p = t.cuda.get_device_properties(0)
        row.update(name=p.name, sms=p.multi_processor_count, mem_bytes=p.total_memory,
                   l2_bytes=getattr(p, "L2_cache_size", None), cc=f"{p.major}.{p.minor}", cuda=t.version.cuda)
        if nv is not None:
            try:
                idle = []
                for _ in range(10):   # before any heavy work: the board at idle clocks
                    idle.append(nv.nvmlDeviceGetPowerUsage(handle) / 1e3)
                    time.sleep(0.03)
                drv = nv.nvmlSystemGetDriverVersion()
                row.update(driver=drv.decode() if isinstance(drv, bytes) else drv,
                           power_limit_w=nv.nvmlDeviceGetPowerManagementLimit(handle) / 1e3,
                           sm_clock_max_mhz=nv.nvmlDeviceGetMaxClockInfo(handle, nv.NVML_CLOCK_SM),
                           mem_clock_max_mhz=nv.nvmlDeviceGetMaxClockInfo(handle, nv.NVML_CLOCK_MEM),
                           idle_power_w=statistics.median(idle))
            except Exception as e:   # NVML without some query: keep what we have
                row["nvml_error"] = repr(e)[:200]
    else:
        row.update(name=cpu_name(), cores=os.cpu_count(), mem_bytes=ram_bytes(), threads=t.get_num_threads())
    return row


def fp8_supported(torch: Any) -> bool:
    """fp8 GEMMs need torch._scaled_mm and compute capability 8.9 or newer (Ada, Hopper, Blackwell)."""
    if not (torch.cuda.is_available() and hasattr(torch, "_scaled_mm") and hasattr(torch, "float8_e4m3fn")):
        return False
    return bool(torch.cuda.get_device_capability(0) >= (8, 9))

"""A chip, in SI units, as the core consumes it.

Catalog files (``catalog/hardware/<id>.yaml``) keep the datasheet's units and a source for every
figure; ``tokenomy.loaders`` converts them once into this schema. Per-chip figures are per
accelerator (per GPU for rack systems such as GB200 NVL72, per wafer for Cerebras WSE-3).
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .limits import hardware_problem

Precision = Literal["bf16", "fp8", "fp4", "int8"]
PRECISIONS: tuple[str, ...] = ("bf16", "fp8", "fp4", "int8")
ChipKind = Literal["gpu", "tpu", "asic", "sram", "cpu"]
# How ``price_usd`` is bought, which sets the capex multipliers (core/economics.FORM_FACTORS):
# hgx-server: a chip on a multi-chip board in a server (server and network multipliers apply);
# pcie-server: a PCIe card in a server (same multipliers); rack-share: the chip's share of a rack
# that includes host CPUs, switches and rack (GB200/GB300 NVL72; network multiplier only);
# wafer-system: a whole system (Cerebras CS-3; network multiplier only); cloud-instance: rented only.
FormFactor = Literal["hgx-server", "pcie-server", "rack-share", "wafer-system", "cloud-instance"]
FORM_FACTORS: tuple[str, ...] = get_args(FormFactor)
# The memory the weights live in, as the vendor names it ("HBM": HBM of a type the vendor does not state)
MemoryType = Literal["HBM", "HBM2", "HBM2e", "HBM3", "HBM3e", "HBM4", "GDDR6", "GDDR7", "LPDDR5X", "SRAM"]
MEMORY_TYPES: tuple[str, ...] = get_args(MemoryType)


class HardwareSpec(BaseModel):
    """One accelerator. Rates are dense (no sparsity); bandwidths are per direction where noted."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    id: str
    name: str
    vendor: str
    kind: ChipKind = "gpu"
    year: int | None = None            # first available (GA / shipping); the catalog note gives the announcement
    # physical facts (optional; None = not published): the process as the vendor names it ("TSMC 4N"), the area
    # of ONE compute die in m^2, compute dies per package (MI300X: the 8 XCDs, not the IODs), transistors per
    # package, and the type of the memory that holds the weights
    process_node: str | None = None
    die_area_m2: float | None = None
    compute_dies: int | None = None
    transistors: float | None = None
    memory_type: MemoryType | None = None
    # peak dense matrix rate per precision, FLOP/s (int8: OP/s); a missing key = unsupported
    peak_flop_per_s: dict[str, float]
    # memory tiers; 0 where the tier does not exist
    hbm_bytes: float = 0.0
    hbm_bytes_per_s: float = 0.0
    sram_bytes: float = 0.0            # on-chip SRAM usable for weights/KV (L2 on GPUs is cache, see sram_is_cache)
    sram_bytes_per_s: float = 0.0
    sram_is_cache: bool = True         # True on GPUs: L2 / Infinity Cache cannot hold a model
    ddr_bytes: float = 0.0             # host / external DDR tier on the inference path (SambaNova DDR)
    ddr_bytes_per_s: float = 0.0
    # a capacity tier that is NOT on the inference path (Cerebras MemoryX streams weights in training);
    # recorded for reference, never counted in weight_memory_bytes
    capacity_tier_bytes: float = 0.0
    capacity_tier_bytes_per_s: float = 0.0
    # scale-up link (NVLink, Infinity Fabric, ICI, ...), bytes/s in ONE direction per chip
    scaleup_bytes_per_s_unidir: float = 0.0
    scaleup_domain: int = 1            # chips in one scale-up domain
    # scale-out NIC bandwidth per accelerator in its standard server/rack (InfiniBand/Ethernet/EFA/DCN),
    # Gb/s in ONE direction; 0 = unknown (core/disagg.py: the KV hand-off between pools outside one domain)
    scaleout_gbps: float = 0.0
    power_limit_w: float | None = None
    idle_power_w: float | None = None
    price_usd: float | None = None
    form_factor: FormFactor = "hgx-server"   # what price_usd buys (see FORM_FACTORS above)
    host_power_w: float | None = None  # host CPUs, NICs, fans per chip, W (the platform's share)
    rent_usd_per_hour: float | None = None
    compute_units: int | None = None   # SMs / CUs / cores: the wave size for GEMM tiles
    clock_hz: float | None = None      # max boost clock
    # SRAM dataflow systems (core/sram.py); the defaults leave every other chip on the GPU model
    matmul_rows: int | None = None     # activation rows one pass of the matmul units takes without waste
    layer_fixed_s: float = 0.0         # fixed time per layer per step (schedule, synchronisation)
    hop_latency_s: float = 0.0         # one chip-to-chip hop; 0: the engine's link latency
    # the weight format the vendor serves models in on this chip (Groq: 8-bit); None: the model's shipped
    # format. A default only: an explicit precision wins (api.default_precision, core/precision.py)
    served_precision: Precision | None = None
    sources: dict[str, str] = Field(default_factory=dict)   # field -> source URL / note

    def peak(self, precision: str) -> float | None:
        """Peak dense FLOP/s for ``precision``, or None when the chip lacks it."""
        return self.peak_flop_per_s.get(precision)

    @property
    def weight_memory_bytes(self) -> float:
        """Bytes that can hold weights and KV cache: HBM, plus SRAM on SRAM-first chips, plus DDR."""
        sram = 0.0 if self.sram_is_cache else self.sram_bytes
        return self.hbm_bytes + sram + self.ddr_bytes

    @property
    def main_memory_bytes_per_s(self) -> float:
        """Bandwidth of the tier that holds the weights: HBM, or SRAM on chips without HBM."""
        if self.hbm_bytes > 0:
            return self.hbm_bytes_per_s
        if not self.sram_is_cache and self.sram_bytes > 0:
            return self.sram_bytes_per_s
        return self.ddr_bytes_per_s

    @property
    def silicon_area_m2(self) -> float | None:
        """Compute silicon per package (die area x compute dies), m^2; None when either is unknown."""
        if self.die_area_m2 is None or self.compute_dies is None:
            return None
        return self.die_area_m2 * self.compute_dies

    @property
    def scaleout_bytes_per_s(self) -> float:
        """Scale-out NIC bandwidth per chip, bytes/s in one direction (``scaleout_gbps`` * 1e9 / 8); 0 if unknown."""
        return self.scaleout_gbps * 1e9 / 8

    @model_validator(mode="after")
    def _physical(self) -> HardwareSpec:
        """Every figure in its physical range (spec/limits.py), tiers and links consistent."""
        problem = hardware_problem(self)
        if problem:
            raise ValueError(problem)
        if self.served_precision is not None and self.served_precision not in self.peak_flop_per_s:
            have = ", ".join(sorted(self.peak_flop_per_s)) or "none"
            raise ValueError(f"served_precision {self.served_precision!r} has no matrix rate on this chip "
                             f"(it has {have})")
        return self

"""The deprivation lookups (``reference/``): a postcode-to-LSOA extract and the IMD 2019 deciles."""
from __future__ import annotations

import random

from pipelines.demo.allocation import allocate
from pipelines.demo.files import Landing, csv_line, encode, quote

# Small synthetic stand-ins for the published files, with their real headers: an extract of the ONS
# postcode directory and the IoD 2019 File 7. Merseyside is among England's most deprived areas, so
# most of the service's LSOAs are in deciles 1-3. Codes and postcodes are made up (E0199xxxx).

_DECILE_W = (30, 14, 11, 8, 7, 6, 6, 6, 5, 7)  # the demo area's LSOAs by IMD decile
MEMBER_DECILE_WEIGHTS = (40, 17, 12, 7, 6, 5, 4, 3, 3, 3)  # who comes: more from the most deprived areas
_OUTWARD = ("L1", "L3", "L4", "L5", "L6", "L7", "L8", "L9", "L10", "L11", "L12", "L13", "L14", "L15", "L17",
            "L18", "L19", "L20", "L21", "L22", "L23", "L24", "L25", "L27", "L28", "L30", "L31", "L32", "L33",
            "L36", "PR8", "PR9", "CH41", "CH42", "CH44", "CH45", "CH46", "CH49", "WA9", "WA10")
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
POSTCODE_LSOA_HEADER = ("pcd7", "pcd8", "pcds", "dointr", "doterm", "oscty", "lsoa11cd", "msoa11cd", "ladcd")
IMD_HEADER = ("LSOA code (2011)", "LSOA name (2011)", "Local Authority District code (2019)",
              "Local Authority District name (2019)", "Index of Multiple Deprivation (IMD) Score",
              "Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)",
              "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)")
_LADS = (("E08000012", "Liverpool"), ("E08000014", "Sefton"), ("E08000011", "Knowsley"),
         ("E08000015", "Wirral"), ("E08000013", "St. Helens"))


def write_reference(L: Landing, seed: int) -> dict:
    """The lookups; returns {decile: [postcodes]} plus postcodes outside England ('wales') and
    valid-looking postcodes the lookup does not hold ('missing'), for the register."""
    rng = random.Random(f"{seed}:reference")
    n_lsoa = 600
    deciles = allocate(n_lsoa, [float(w) for w in _DECILE_W])
    codes, imd_rows, pc_rows = [], [], []
    by_decile: dict[int, list[str]] = {dd: [] for dd in range(1, 11)}
    used: set[str] = set()

    def new_postcode() -> str:
        while True:
            pc = f"{rng.choice(_OUTWARD)} {rng.randint(0, 9)}{rng.choice(_INWARD_LETTERS)}{rng.choice(_INWARD_LETTERS)}"
            if pc not in used:
                used.add(pc)
                return pc

    i = 0
    for decile, n in enumerate(deciles, start=1):
        for _ in range(n):
            i += 1
            code = f"E0199{i:04d}"
            lad, lad_name = _LADS[i % len(_LADS)]
            rank = rng.randint((decile - 1) * 3284 + 1, decile * 3284)
            imd_rows.append((code, f"{lad_name} {i:03d}{'ABCDE'[i % 5]}", lad, lad_name,
                             f"{max(1.0, 90 - rank / 400):.3f}", str(rank), str(decile)))
            codes.append(code)
            for _ in range(rng.randint(4, 8)):
                pc = new_postcode()
                by_decile[decile].append(pc)
                pc_rows.append((pc, code))
    wales = []
    for j in range(1, 6):  # across the border: an LSOA, but no English IMD decile
        pc = f"CH{rng.choice((5, 6, 7))} {rng.randint(1, 9)}{rng.choice(_INWARD_LETTERS)}{rng.choice(_INWARD_LETTERS)}"
        if pc not in used:
            used.add(pc)
            wales.append(pc)
            pc_rows.append((pc, f"W0100{j:04d}"))
    missing = [new_postcode() for _ in range(40)]  # new builds, typos: valid shape, not in the extract
    pc_rows.sort()
    lines = [",".join(POSTCODE_LSOA_HEADER)]
    for pc, code in pc_rows:
        out, inw = pc.split()
        lines.append(",".join((f"{out:<4}{inw}", f"{out:<4} {inw}", pc, "198001", "", "E99999999", code,
                               "E0299" + code[-4:], "E08000012")))
    # terminated, non-geographic postcodes carry no LSOA: rejected rows (they can resolve nothing)
    for pc in (new_postcode(), new_postcode()):
        out, inw = pc.split()
        lines.append(",".join((f"{out:<4}{inw}", f"{out:<4} {inw}", pc, "198001", "200112", "", "", "", "")))
    L.write("reference/ons/postcode_lsoa_merseyside_2021-05.csv", encode(lines, crlf=True), "reference",
            rows=len(lines) - 1, rejected=2)
    lines = [",".join(quote(h) for h in IMD_HEADER)] + [csv_line(r) for r in imd_rows]
    data = encode(lines, bom=True)
    L.write("reference/iod2019/imd2019_file7_merseyside.csv", data, "reference", rows=len(imd_rows))
    return {"by_decile": by_decile, "wales": wales, "missing": missing}

"""Write the synthetic demo trial (resources/demo) in the input-contract formats.

    python scripts/make_demo_cohort.py --out resources/demo --patients 20 --genes 20000 \\
        --proteins 3000 --seed 3152

Same arguments, same bytes. ``--null`` keeps the omics and makes the outcomes independent of them.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from trialomics import demo, demo_clinical, enrichment  # noqa: E402

DEFAULT_GENE_SETS = Path(__file__).resolve().parents[1] / "resources" / "gene_sets" / "immuno_oncology.gmt"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="output folder (created if needed)")
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--genes", type=int, default=20000, help="genes in the RNA count files")
    parser.add_argument("--proteins", type=int, default=3000, help="proteins in proteins.tsv")
    parser.add_argument("--seed", type=int, default=demo.DEFAULT_SEED)
    parser.add_argument("--null", action="store_true",
                        help="outcomes independent of the omics (truth.tsv effects are 0)")
    parser.add_argument("--gene-sets", type=Path, default=DEFAULT_GENE_SETS,
                        help="GMT whose genes get real symbols in the RNA and protein files")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cohort = demo.generate_demo_cohort(
        n_patients=args.patients, n_genes=args.genes, n_proteins=args.proteins, seed=args.seed,
        null=args.null, gene_sets=enrichment.read_gmt(args.gene_sets))
    written = demo.write_demo_cohort(cohort, args.out)
    print(f"wrote {len(written)} files to {args.out}")
    print(demo_clinical.format_outcome_summary(demo_clinical.summarise_outcomes(cohort.expected_labels)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Detection and false-pair rates of the similarity check on the generated corpus, at several thresholds.

    .venv/bin/python scripts/similarity_rates.py [--students 300] [--copies 30] [--seeds 0 1 2]

For each homework and seed, a class of independent students and planted copies
(tests/grading/generated_class.py) is checked with
course_utils.grading.similarity.similar_pairs. Detection rate: planted pairs at
or above the threshold / planted pairs. False-pair rate: pairs of independent
students at or above it / all pairs of independent students. Pairs between a
copier and someone other than their source are counted in neither.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "grading"))

import generated_class as corpus  # noqa: E402

from course_utils.grading.similarity import (THRESHOLD, similar_pairs, starter_code,  # noqa: E402
                                             starter_statements, student_code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=300, help="submissions per class, copies included")
    parser.add_argument("--copies", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    thresholds = sorted({0.8, 0.85, 0.9, 0.95, THRESHOLD, 1.0})
    for assignment in ("tanh", "augmentation"):
        found = {t: 0 for t in thresholds}
        false = {t: 0 for t in thresholds}
        planted_total = independent_pairs = 0
        lowest_planted, highest_independent, seconds = 1.0, 0.0, []
        for seed in args.seeds:
            notebooks, planted = corpus.make_class(assignment, args.students - args.copies, args.copies, seed)
            independent = [student for student in notebooks if "_s" in student]
            start = time.perf_counter()
            starter = starter_code(ROOT / "assignments", assignment)
            codes = {student: student_code(notebook, starter_statements(starter)) for student, notebook in notebooks.items()}
            pairs = similar_pairs(codes, starter, keep_above=0.0).pairs
            seconds.append(time.perf_counter() - start)
            scores = {frozenset((pair.student_a, pair.student_b)): pair.similarity for pair in pairs}
            planted_total += len(planted)
            independent_pairs += len(independent) * (len(independent) - 1) // 2
            lowest_planted = min([lowest_planted, *(scores.get(pair, 0.0) for pair in planted)])
            alone = [pair.similarity for pair in pairs if "_s" in pair.student_a and "_s" in pair.student_b]
            highest_independent = max([highest_independent, *alone])
            for t in thresholds:
                found[t] += sum(scores.get(pair, 0.0) >= t for pair in planted)
                false[t] += sum(score >= t for score in alone)
        print(f"{assignment}: {len(args.seeds)} classes of {args.students} ({args.copies} planted copies each); "
              f"similarity of the lowest planted pair {lowest_planted:.3f}, of the most alike independent pair "
              f"{highest_independent:.3f}; fingerprints and pairs took {', '.join(f'{s:.1f}' for s in seconds)} s")
        for t in thresholds:
            mark = "  <- THRESHOLD" if t == THRESHOLD else ""
            print(f"  threshold {t:.2f}: detection {found[t]}/{planted_total} = {found[t] / planted_total:.1%}, "
                  f"false pairs {false[t]}/{independent_pairs} = {false[t] / independent_pairs:.4%}{mark}")


if __name__ == "__main__":
    main()

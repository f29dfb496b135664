"""Scores an angles CSV (`stretchwatch replay ... --angles-out`) against a song2021 encoder CSV,
in plain RMSE and in the authors' metric (compute_angle.m / compute_rmse_array.m): zeroed at
sample 7250, the last 2000 samples dropped, the mean of a 1-minute sliding-window RMSE with the
first window's 5999 zeros counted as their code does.

usage: python3 published_metric.py ANGLES.csv REF.csv.gz   (needs numpy)
"""
import csv
import gzip
import sys

import numpy as np


def main(angles, reference):
    ref = np.loadtxt(gzip.open(reference, "rt"), delimiter=",", skiprows=1)
    rows = [r for r in csv.reader(open(angles)) if r and r[0][0].isdigit() and r[1] != ""]
    est = np.array([(float(r[0]), float(r[1])) for r in rows])
    est = est[est[:, 0] <= ref[-1, 0]]
    t = est[:, 0]
    e = (est[:, 1] - np.interp(t, ref[:, 0], ref[:, 1]) + 180) % 360 - 180
    i0, i1 = 7250, len(t) - 2000
    z = e[i0:i1] - e[i0]
    w = 6000
    c = np.cumsum(np.r_[0, z**2])
    windows = np.sqrt((c[w:] - c[:-w]) / w)
    print(
        f"{t[-1] / 60:.1f} min: plain RMSE {np.sqrt((e**2).mean()):.2f} (mean {e.mean():+.2f}); "
        f"published metric {windows.sum() / len(z):.2f}; without the mean {e[i0:i1].std():.2f}"
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

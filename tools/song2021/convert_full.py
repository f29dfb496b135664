"""Converts the full 25-minute song2021 trials (MatlabCode/Data/raw_<trial>.mat of
github ssong47/compute_relative_angle_between_two_IMUs, MIT) into IMU CSV v1 and an encoder CSV,
byte for byte the way ../shared/datasets/song2021 holds their first 4 minutes.

usage: python3 convert_full.py MIRROR_DIR OUT_DIR   (needs numpy and scipy)
"""
import gzip
import os
import sys

import numpy as np
import scipy.io

G = 9.80665
SHARED = os.path.join(os.path.dirname(__file__), "../../../shared/datasets/song2021")
TRIALS = ["pitch_slow", "pitch_medium", "roll_slow", "roll_medium", "roll_fast"]


def main(mirror, out):
    for trial in TRIALS:
        m = scipy.io.loadmat(os.path.join(mirror, f"raw_{trial}.mat"))
        col = lambda k: m[k][:, 0]
        t = col("all_time")
        t = t - t[0]
        with gzip.open(os.path.join(SHARED, f"song2021_{trial}_4min.imu.csv.gz"), "rt") as f:
            header = [l for l in f.read().split("\n") if l.startswith("#") or l.startswith("t_s")]
        with gzip.open(os.path.join(out, f"{trial}_full.imu.csv.gz"), "wt") as imu, gzip.open(
            os.path.join(out, f"{trial}_full.ref.csv.gz"), "wt"
        ) as ref:
            imu.write("\n".join(header) + "\n")
            ref.write("t_s,knee_flexion_deg\n")
            last = -1.0
            for i in range(len(t)):
                ti = round(t[i], 3)
                if ti <= last:  # repeated rows (the authors' bad-packet fill)
                    continue
                last = ti
                for role, k in (("thigh", "1"), ("shank", "2")):
                    a = [col(f"all_accel_{k}_{x}")[i] * G for x in "xyz"]
                    g = [np.radians(col(f"all_gyro_{k}_{x}")[i]) for x in "xyz"]
                    imu.write(f"{ti:.3f},{role}," + ",".join(f"{v:.4f}" for v in a) + ",")
                    imu.write(",".join(f"{v:.6f}" for v in g) + "\n")
                ref.write(f"{ti:.3f},{col('all_encoder')[i]:.3f}\n")
        print(trial, "done")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

//! Hinge-axis fits from gyro rates (Seel et al. 2012/2014): the shank axis with a known thigh
//! rate, both axes together, and the thigh axis restricted to the plane orthogonal to its long
//! axis for swings where the thigh barely moves. Every fit is sign-free: ‖g × j‖ = ‖g × (−j)‖.

use nalgebra::{Matrix2, Matrix3, Matrix4, Vector2, Vector3, Vector4};

/// Dominant direction of a set of rate vectors (sign arbitrary).
pub fn principal_axis(v: &[Vector3<f64>]) -> Vector3<f64> {
    let m: Matrix3<f64> = v.iter().map(|g| g * g.transpose()).sum();
    let eig = m.symmetric_eigen();
    let imax = eig.eigenvalues.imax();
    eig.eigenvectors.column(imax).normalize()
}

/// Two unit vectors orthogonal to `j` and each other.
pub(super) fn tangent_basis(j: &Vector3<f64>) -> (Vector3<f64>, Vector3<f64>) {
    let helper = if j.x.abs() < 0.9 {
        Vector3::x()
    } else {
        Vector3::y()
    };
    let e1 = j.cross(&helper).normalize();
    let e2 = j.cross(&e1);
    (e1, e2)
}

/// ‖g × j‖ and its gradient with respect to j.
fn cross_norm_grad(g: &Vector3<f64>, j: &Vector3<f64>) -> (f64, Vector3<f64>) {
    let c = g.cross(j);
    let n = c.norm();
    if n < 1e-12 {
        (0.0, Vector3::zeros())
    } else {
        (n, c.cross(g) / n)
    }
}

/// Shank hinge axis minimising Σ(‖g2 × j2‖ − n1)², by Gauss–Newton from several starts.
pub(super) fn fit_shank_axis(g2: &[Vector3<f64>], n1: &[f64]) -> (Vector3<f64>, f64) {
    let cost = |j: &Vector3<f64>| -> f64 {
        g2.iter()
            .zip(n1)
            .map(|(g, n)| (g.cross(j).norm() - n).powi(2))
            .sum()
    };
    let mut starts = vec![principal_axis(g2)];
    starts.extend([Vector3::x(), Vector3::y(), Vector3::z()]);
    starts.push(Vector3::new(1.0, 1.0, 1.0).normalize());
    let mut best = (starts[0], f64::INFINITY);
    for s in starts {
        let mut j = s;
        for _ in 0..30 {
            let (e1, e2) = tangent_basis(&j);
            let mut jtj = Matrix2::zeros();
            let mut jtr = Vector2::zeros();
            for (g, n) in g2.iter().zip(n1) {
                let (v, grad) = cross_norm_grad(g, &j);
                let row = Vector2::new(grad.dot(&e1), grad.dot(&e2));
                jtj += row * row.transpose();
                jtr += row * (v - n);
            }
            jtj += Matrix2::identity() * 1e-9;
            let Some(step) = jtj.lu().solve(&(-jtr)) else {
                break;
            };
            j = (j + e1 * step.x + e2 * step.y).normalize();
            if step.norm() < 1e-9 {
                break;
            }
        }
        let c = cost(&j);
        if c < best.1 {
            best = (j, c);
        }
    }
    best
}

/// Both hinge axes from Σ(‖g1 × j1‖ − ‖g2 × j2‖)² (Seel 2014), for when the thigh moves.
pub(super) fn fit_both_axes(
    g1: &[Vector3<f64>],
    g2: &[Vector3<f64>],
) -> (Vector3<f64>, Vector3<f64>, f64) {
    let cost = |a: &Vector3<f64>, b: &Vector3<f64>| -> f64 {
        g1.iter()
            .zip(g2)
            .map(|(x, y)| (x.cross(a).norm() - y.cross(b).norm()).powi(2))
            .sum()
    };
    let dirs = [
        Vector3::x(),
        Vector3::y(),
        Vector3::z(),
        Vector3::new(1.0, 1.0, 0.0).normalize(),
        Vector3::new(0.0, 1.0, 1.0).normalize(),
        Vector3::new(1.0, 0.0, 1.0).normalize(),
    ];
    let mut best = (Vector3::x(), Vector3::x(), f64::INFINITY);
    for a0 in dirs {
        for b0 in [principal_axis(g2), Vector3::x(), Vector3::y(), Vector3::z()] {
            let (mut a, mut b) = (a0, b0);
            for _ in 0..40 {
                let (a1, a2) = tangent_basis(&a);
                let (b1, b2) = tangent_basis(&b);
                let mut jtj = Matrix4::zeros();
                let mut jtr = Vector4::zeros();
                for (x, y) in g1.iter().zip(g2) {
                    let (va, ga) = cross_norm_grad(x, &a);
                    let (vb, gb) = cross_norm_grad(y, &b);
                    let row = Vector4::new(ga.dot(&a1), ga.dot(&a2), -gb.dot(&b1), -gb.dot(&b2));
                    jtj += row * row.transpose();
                    jtr += row * (va - vb);
                }
                jtj += Matrix4::identity() * 1e-9;
                let Some(step) = jtj.lu().solve(&(-jtr)) else {
                    break;
                };
                a = (a + a1 * step[0] + a2 * step[1]).normalize();
                b = (b + b1 * step[2] + b2 * step[3]).normalize();
                if step.norm() < 1e-9 {
                    break;
                }
            }
            let c = cost(&a, &b);
            if c < best.2 {
                best = (a, b, c);
            }
        }
    }
    best
}

/// Thigh hinge axis restricted to the plane orthogonal to the thigh's long axis `long1`, from
/// Σ(‖g1 × j1‖ − ‖g2 × j2‖)² with the shank axis `j2` fixed (Seel 2014 with one unknown angle).
///
/// When the thigh hangs still the swings say nothing about `j1` (a still vertical thigh turned about
/// itself reads the same); whatever the thigh does move — sway, lift, wobble — makes the cost
/// depend on the angle. A global scan over the half-turn (the cost is sign-free) avoids the local
/// minima a gradient start would fall into, and a parabola through the best three refines it.
/// Returns the axis and how well the angle is determined: the cost rise 90° away from the minimum
/// per sample, as an RMS rate (rad/s); near zero means the thigh's motion did not observe it.
pub(super) fn fit_thigh_axis_in_plane(
    g1: &[Vector3<f64>],
    g2: &[Vector3<f64>],
    j2: &Vector3<f64>,
    long1: &Vector3<f64>,
) -> (Vector3<f64>, f64) {
    let (e1, e2) = tangent_basis(long1);
    let n2: Vec<f64> = g2.iter().map(|g| g.cross(j2).norm()).collect();
    let axis = |a: f64| e1 * a.cos() + e2 * a.sin();
    let cost = |a: f64| -> f64 {
        let j = axis(a);
        g1.iter()
            .zip(&n2)
            .map(|(g, n)| (g.cross(&j).norm() - n).powi(2))
            .sum()
    };
    const STEPS: usize = 90;
    let step = std::f64::consts::PI / STEPS as f64;
    let costs: Vec<f64> = (0..STEPS).map(|k| cost(k as f64 * step)).collect();
    let k0 = (0..STEPS)
        .min_by(|&a, &b| costs[a].total_cmp(&costs[b]))
        .unwrap_or(0);
    let (cm, c0, cp) = (
        costs[(k0 + STEPS - 1) % STEPS],
        costs[k0],
        costs[(k0 + 1) % STEPS],
    );
    let denom = cm - 2.0 * c0 + cp;
    let shift = if denom > 1e-15 {
        (0.5 * (cm - cp) / denom).clamp(-0.5, 0.5)
    } else {
        0.0
    };
    let best = (k0 as f64 + shift) * step;
    let c_best = cost(best);
    let c_ortho = cost(best + std::f64::consts::FRAC_PI_2);
    let rise = ((c_ortho - c_best).max(0.0) / g1.len().max(1) as f64).sqrt();
    (axis(best), rise)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shank_axis_fit_recovers_axis_with_still_thigh() {
        let axis = Vector3::new(0.3, -0.8, 0.5).normalize();
        let g2: Vec<Vector3<f64>> = (0..500)
            .map(|i| {
                axis * (i as f64 * 0.05).sin() * 3.0
                    + Vector3::new(0.0, 0.01, 0.0) * (i as f64).cos()
            })
            .collect();
        let n1 = vec![0.0; g2.len()];
        let (j, _) = fit_shank_axis(&g2, &n1);
        assert!(j.dot(&axis).abs() > 0.999, "{j:?}");
    }

    #[test]
    fn seel_fit_recovers_both_axes() {
        // Thigh rotates about a1 and the shank about a2 plus the thigh's rotation mapped into it.
        let a1 = Vector3::new(0.1, 0.9, -0.3).normalize();
        let r = nalgebra::Rotation3::from_euler_angles(0.4, -0.2, 1.1);
        let a2 = r * a1;
        let mut g1 = Vec::new();
        let mut g2 = Vec::new();
        for i in 0..800 {
            let t = i as f64 * 0.01;
            let w_t = a1 * (1.3 * t).sin() * 2.0 + Vector3::new(0.5, 0.1, 0.2) * (0.7 * t).cos();
            let knee = (2.0 * t).cos() * 4.0;
            // Shank frame = thigh frame rotated by r (knee angle change ignored: small-angle check).
            g1.push(w_t);
            g2.push(r * w_t + a2 * knee);
        }
        let (j1, j2, _) = fit_both_axes(&g1, &g2);
        assert!(j1.dot(&a1).abs() > 0.99, "{j1:?}");
        assert!(j2.dot(&a2).abs() > 0.99, "{j2:?}");
    }

    #[test]
    fn in_plane_thigh_fit_uses_small_sway() {
        // Thigh hangs along x; its hinge axis is 35° round from y in the y-z plane. The thigh
        // sways ±2°/s about the hinge and ±1°/s about the anterior axis; the shank swings.
        let long = Vector3::x();
        let a1 = Vector3::new(0.0, 35f64.to_radians().cos(), 35f64.to_radians().sin());
        let ant = long.cross(&a1);
        let r = nalgebra::Rotation3::from_euler_angles(0.3, 0.2, -0.4);
        let a2 = r * a1;
        let (mut g1, mut g2) = (Vec::new(), Vec::new());
        for i in 0..1200 {
            let t = i as f64 * 0.01;
            let w_t = a1 * (2.0 * t).sin() * 0.035 + ant * (1.3 * t).cos() * 0.017;
            g1.push(w_t);
            g2.push(r * w_t + a2 * (std::f64::consts::PI * t).sin() * 2.0);
        }
        let (j1, rise) = fit_thigh_axis_in_plane(&g1, &g2, &a2, &long);
        assert!(j1.dot(&a1).abs() > 0.999, "{j1:?}");
        assert!(rise > 0.005, "{rise}");
    }
}

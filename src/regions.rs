//! Regions of a result and how two sets of them match: the geometry behind the label-quality
//! views (docs/quality.md). A region is one result item of a rectangle, polygon, text-span
//! or time-range control: its labels and its shape. Two sets match one to one, greedily by
//! IoU (highest first), a pair only when both have the same labels and an IoU of at least
//! 0.5.

use serde_json::Value;

/// The least IoU at which two regions count as the same region.
pub const MATCH_IOU: f64 = 0.5;

/// A region's shape. Rectangles and polygons are in the image's percentages, as Label Studio
/// gives them (a rotation is applied in pixels when the result gives
/// `original_width`/`original_height`, so a turned box keeps its right angles); spans are
/// offsets or times along one axis.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    Box { x0: f64, y0: f64, x1: f64, y1: f64 },
    Polygon(Vec<(f64, f64)>),
    Span { start: f64, end: f64 },
}

/// One region: its labels (sorted, without repeats) and shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    pub labels: Vec<String>,
    pub shape: Shape,
}

/// How two sets of regions matched.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Matching {
    /// Regions read from each side (items that are no region of a known shape are left out).
    pub regions_a: usize,
    pub regions_b: usize,
    /// The IoU of each matched pair, in the order they were matched.
    pub ious: Vec<f64>,
}

/// Match two JSON arrays of result items (the items of one control in two annotations).
/// Text that is not a JSON array reads as no regions.
pub fn match_items(a: &str, b: &str) -> Matching {
    let (a, b) = (read_regions(a), read_regions(b));
    Matching { regions_a: a.len(), regions_b: b.len(), ious: match_regions(&a, &b) }
}

/// The regions among a JSON array of result items.
pub fn read_regions(items: &str) -> Vec<Region> {
    match serde_json::from_str::<Value>(items) {
        Ok(Value::Array(items)) => items.iter().filter_map(region).collect(),
        _ => Vec::new(),
    }
}

/// The region a result item describes, if it is one.
pub fn region(item: &Value) -> Option<Region> {
    let kind = item.get("type")?.as_str()?.to_ascii_lowercase();
    let value = item.get("value")?.as_object()?;
    let mut labels: Vec<String> = match value.get(kind.as_str()) {
        Some(Value::Array(labels)) => labels.iter().map(label_text).collect(),
        _ => Vec::new(),
    };
    labels.sort();
    labels.dedup();
    let num = |v: &serde_json::Map<String, Value>, key: &str| v.get(key).and_then(Value::as_f64);
    let shape = match kind.as_str() {
        "rectanglelabels" | "rectangle" => {
            let (x, y) = (num(value, "x")?, num(value, "y")?);
            let (w, h) = (num(value, "width")?, num(value, "height")?);
            let rotation = num(value, "rotation").unwrap_or(0.0);
            if !(x.is_finite() && y.is_finite() && w.is_finite() && h.is_finite()) {
                return None;
            }
            if rotation == 0.0 || !rotation.is_finite() {
                Shape::Box {
                    x0: x.min(x + w),
                    y0: y.min(y + h),
                    x1: x.max(x + w),
                    y1: y.max(y + h),
                }
            } else {
                // Label Studio turns a rectangle clockwise about its top-left corner, in
                // pixels: the corners are found there and brought back to percentages.
                let size = (num_of(item, "original_width"), num_of(item, "original_height"));
                let (sx, sy) = match size {
                    (Some(iw), Some(ih))
                        if iw > 0.0 && ih > 0.0 && iw.is_finite() && ih.is_finite() =>
                    {
                        (iw / 100.0, ih / 100.0)
                    }
                    _ => (1.0, 1.0),
                };
                let (px, py, pw, ph) = (x * sx, y * sy, w * sx, h * sy);
                let (sin, cos) = rotation.to_radians().sin_cos();
                let corners = [
                    (px, py),
                    (px + pw * cos, py + pw * sin),
                    (px + pw * cos - ph * sin, py + pw * sin + ph * cos),
                    (px - ph * sin, py + ph * cos),
                ];
                Shape::Polygon(corners.iter().map(|&(cx, cy)| (cx / sx, cy / sy)).collect())
            }
        }
        "polygonlabels" | "polygon" => {
            let points = value.get("points")?.as_array()?;
            let mut out = Vec::with_capacity(points.len());
            for p in points {
                let p = p.as_array()?;
                let (x, y) = (p.first()?.as_f64()?, p.get(1)?.as_f64()?);
                if !(x.is_finite() && y.is_finite()) {
                    return None;
                }
                out.push((x, y));
            }
            // A polygon needs three corners, and edges that do not cross: a self-crossing
            // one has no agreed area (its loops would count with opposite signs).
            if out.len() < 3 || crosses_itself(&out) {
                return None;
            }
            Shape::Polygon(out)
        }
        _ => {
            // Text spans (`start`/`end` offsets, HyperText's `globalOffsets`), audio and
            // time-series ranges (`start`/`end`).
            let offsets = value.get("globalOffsets").and_then(Value::as_object).unwrap_or(value);
            let (start, end) = (num(offsets, "start")?, num(offsets, "end")?);
            if !(start.is_finite() && end.is_finite()) {
                return None;
            }
            Shape::Span { start: start.min(end), end: start.max(end) }
        }
    };
    Some(Region { labels, shape })
}

fn num_of(item: &Value, key: &str) -> Option<f64> {
    item.get(key).and_then(Value::as_f64)
}

fn label_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether two edges of a closed polygon that are not neighbours meet (crossing or
/// touching). Quadratic in the corners, far below the intersection's cost.
fn crosses_itself(points: &[(f64, f64)]) -> bool {
    let n = points.len();
    let orient = |p: (f64, f64), q: (f64, f64), r: (f64, f64)| {
        let v = (q.0 - p.0) * (r.1 - p.1) - (q.1 - p.1) * (r.0 - p.0);
        if v > 0.0 {
            1
        } else if v < 0.0 {
            -1
        } else {
            0
        }
    };
    let within = |p: (f64, f64), q: (f64, f64), r: (f64, f64)| {
        r.0 >= p.0.min(q.0) && r.0 <= p.0.max(q.0) && r.1 >= p.1.min(q.1) && r.1 <= p.1.max(q.1)
    };
    for i in 0..n {
        for j in i + 1..n {
            // Neighbouring edges share a corner.
            if j == i + 1 || (i == 0 && j == n - 1) {
                continue;
            }
            let (p1, q1) = (points[i], points[(i + 1) % n]);
            let (p2, q2) = (points[j], points[(j + 1) % n]);
            let (o1, o2) = (orient(p1, q1, p2), orient(p1, q1, q2));
            let (o3, o4) = (orient(p2, q2, p1), orient(p2, q2, q1));
            if o1 * o2 < 0 && o3 * o4 < 0 {
                return true;
            }
            if (o1 == 0 && within(p1, q1, p2))
                || (o2 == 0 && within(p1, q1, q2))
                || (o3 == 0 && within(p2, q2, p1))
                || (o4 == 0 && within(p2, q2, q1))
            {
                return true;
            }
        }
    }
    false
}

/// A shape's bounding box (x0, y0, x1, y1) and area.
fn extent(shape: &Shape) -> ((f64, f64, f64, f64), f64) {
    match shape {
        Shape::Box { x0, y0, x1, y1 } => ((*x0, *y0, *x1, *y1), (x1 - x0) * (y1 - y0)),
        Shape::Span { start, end } => ((*start, 0.0, *end, 0.0), end - start),
        Shape::Polygon(points) => {
            let mut b = (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
            for &(x, y) in points {
                b = (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y));
            }
            (b, polygon_area(points).abs())
        }
    }
}

/// Whether two areas could have an IoU of 0.5 or more, from their boxes and areas alone:
/// the intersection is at most the smaller area and the boxes' overlap, and must be at least
/// half the union, itself at least the larger area. Spans always go on to `iou`.
fn could_match(a: &Shape, b: &Shape) -> bool {
    if matches!(a, Shape::Span { .. }) || matches!(b, Shape::Span { .. }) {
        return true;
    }
    let ((ax0, ay0, ax1, ay1), area_a) = extent(a);
    let ((bx0, by0, bx1, by1), area_b) = extent(b);
    let overlap = (ax1.min(bx1) - ax0.max(bx0)).max(0.0) * (ay1.min(by1) - ay0.max(by0)).max(0.0);
    let most = overlap.min(area_a).min(area_b);
    most > 0.0 && most >= MATCH_IOU * area_a.max(area_b) * (1.0 - 1e-9)
}

/// Match two sets of regions one to one: every pair with the same labels and IoU ≥ 0.5,
/// taken highest IoU first (ties: the earlier region of `a`, then of `b`), each region at
/// most once. Returns the matched pairs' IoUs.
pub fn match_regions(a: &[Region], b: &[Region]) -> Vec<f64> {
    let mut pairs = Vec::new();
    for (i, ra) in a.iter().enumerate() {
        for (j, rb) in b.iter().enumerate() {
            if ra.labels != rb.labels
                || (ra.shape != rb.shape && !could_match(&ra.shape, &rb.shape))
            {
                continue;
            }
            let iou = iou(&ra.shape, &rb.shape);
            if iou >= MATCH_IOU {
                pairs.push((iou, i, j));
            }
        }
    }
    pairs.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let (mut used_a, mut used_b) = (vec![false; a.len()], vec![false; b.len()]);
    let mut out = Vec::new();
    for (iou, i, j) in pairs {
        if !used_a[i] && !used_b[j] {
            used_a[i] = true;
            used_b[j] = true;
            out.push(iou);
        }
    }
    out
}

/// Intersection over union of two shapes (0 for shapes of different kinds, and when the
/// union has no area or length). Two identical zero-size shapes have an IoU of 1.
pub fn iou(a: &Shape, b: &Shape) -> f64 {
    if a == b {
        return 1.0;
    }
    let (inter, union) = match (a, b) {
        (Shape::Span { start: s0, end: e0 }, Shape::Span { start: s1, end: e1 }) => {
            let inter = (e0.min(*e1) - s0.max(*s1)).max(0.0);
            (inter, (e0 - s0) + (e1 - s1) - inter)
        }
        (Shape::Span { .. }, _) | (_, Shape::Span { .. }) => return 0.0,
        (
            Shape::Box { x0: ax0, y0: ay0, x1: ax1, y1: ay1 },
            Shape::Box { x0: bx0, y0: by0, x1: bx1, y1: by1 },
        ) => {
            let w = (ax1.min(*bx1) - ax0.max(*bx0)).max(0.0);
            let h = (ay1.min(*by1) - ay0.max(*by0)).max(0.0);
            let inter = w * h;
            (inter, (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter)
        }
        _ => {
            let (pa, pb) = (polygon_of(a), polygon_of(b));
            let inter = polygon_intersection(&pa, &pb);
            (inter, polygon_area(&pa).abs() + polygon_area(&pb).abs() - inter)
        }
    };
    if union > 0.0 && union.is_finite() { (inter / union).clamp(0.0, 1.0) } else { 0.0 }
}

fn polygon_of(shape: &Shape) -> Vec<(f64, f64)> {
    match shape {
        Shape::Box { x0, y0, x1, y1 } => vec![(*x0, *y0), (*x1, *y0), (*x1, *y1), (*x0, *y1)],
        Shape::Polygon(points) => points.clone(),
        Shape::Span { .. } => Vec::new(),
    }
}

/// Signed area (shoelace): positive for counter-clockwise points in a y-up frame.
pub fn polygon_area(points: &[(f64, f64)]) -> f64 {
    let n = points.len();
    (0..n)
        .map(|i| {
            let (p, q) = (points[i], points[(i + 1) % n]);
            p.0 * q.1 - q.0 * p.1
        })
        .sum::<f64>()
        / 2.0
}

/// The area two simple polygons (convex or not) have in common. Each polygon is a signed
/// sum of the triangles fanned from its first point; the intersection's area is the sum of
/// the pairwise triangle intersections (convex, so clipped exactly) with the product of
/// their signs. Self-crossing polygons are refused before (`region`): for them this would
/// weigh each loop by its winding number.
pub fn polygon_intersection(a: &[(f64, f64)], b: &[(f64, f64)]) -> f64 {
    let fan = |p: &[(f64, f64)]| -> Vec<([(f64, f64); 3], f64)> {
        (1..p.len().saturating_sub(1))
            .filter_map(|i| {
                let t = [p[0], p[i], p[i + 1]];
                let s = polygon_area(&t);
                // Counter-clockwise triangles for the clipper; the sign is kept aside.
                if s > 0.0 {
                    Some((t, 1.0))
                } else if s < 0.0 {
                    Some(([t[0], t[2], t[1]], -1.0))
                } else {
                    None
                }
            })
            .collect()
    };
    let (fa, fb) = (fan(a), fan(b));
    let bounds = |t: &[(f64, f64); 3]| {
        let (xs, ys) = ([t[0].0, t[1].0, t[2].0], [t[0].1, t[1].1, t[2].1]);
        let low = |v: [f64; 3]| v[0].min(v[1]).min(v[2]);
        let high = |v: [f64; 3]| v[0].max(v[1]).max(v[2]);
        (low(xs), low(ys), high(xs), high(ys))
    };
    let boxes_b: Vec<_> = fb.iter().map(|(t, _)| bounds(t)).collect();
    let mut total = 0.0;
    for (ta, sa) in &fa {
        let ba = bounds(ta);
        for ((tb, sb), bb) in fb.iter().zip(&boxes_b) {
            // Triangles whose boxes do not meet have nothing in common.
            if ba.2 < bb.0 || bb.2 < ba.0 || ba.3 < bb.1 || bb.3 < ba.1 {
                continue;
            }
            total += sa * sb * polygon_area(&clip_convex(ta, tb));
        }
    }
    total.abs()
}

/// The part of a convex polygon inside a counter-clockwise convex polygon
/// (Sutherland-Hodgman).
fn clip_convex(subject: &[(f64, f64)], clip: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = subject.to_vec();
    for i in 0..clip.len() {
        if out.is_empty() {
            break;
        }
        let (c0, c1) = (clip[i], clip[(i + 1) % clip.len()]);
        let side = |p: (f64, f64)| (c1.0 - c0.0) * (p.1 - c0.1) - (c1.1 - c0.1) * (p.0 - c0.0);
        let input = std::mem::take(&mut out);
        for k in 0..input.len() {
            let (p, q) = (input[k], input[(k + 1) % input.len()]);
            let (sp, sq) = (side(p), side(q));
            if sp >= 0.0 {
                out.push(p);
            }
            if (sp >= 0.0) != (sq >= 0.0) {
                let t = sp / (sp - sq);
                out.push((p.0 + t * (q.0 - p.0), p.1 + t * (q.1 - p.1)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rect(x: f64, y: f64, w: f64, h: f64, label: &str) -> Value {
        json!({"type": "rectanglelabels", "value": {"x": x, "y": y, "width": w, "height": h,
               "rotation": 0, "rectanglelabels": [label]}})
    }

    #[test]
    fn boxes_iou() {
        let a = region(&rect(0.0, 0.0, 10.0, 10.0, "cat")).unwrap();
        let b = region(&rect(5.0, 0.0, 10.0, 10.0, "cat")).unwrap();
        assert!((iou(&a.shape, &b.shape) - 50.0 / 150.0).abs() < 1e-12);
        assert_eq!(iou(&a.shape, &a.shape), 1.0);
    }

    #[test]
    fn polygons_match_boxes_and_concave_shapes() {
        let square = Shape::Polygon(vec![(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]);
        let box_ = Shape::Box { x0: 5.0, y0: 0.0, x1: 15.0, y1: 10.0 };
        assert!((iou(&square, &box_) - 50.0 / 150.0).abs() < 1e-12);
        // An L shape (area 75) against the square it is cut from: 75 / 100; clockwise too.
        let l = vec![(0.0, 0.0), (10.0, 0.0), (10.0, 5.0), (5.0, 5.0), (5.0, 10.0), (0.0, 10.0)];
        assert!((iou(&square, &Shape::Polygon(l.clone())) - 0.75).abs() < 1e-12);
        let mut cw = l;
        cw.reverse();
        assert!((iou(&Shape::Polygon(cw), &square) - 0.75).abs() < 1e-12);
        // Disjoint.
        let far = Shape::Polygon(vec![(20.0, 20.0), (30.0, 20.0), (30.0, 30.0)]);
        assert_eq!(iou(&square, &far), 0.0);
    }

    #[test]
    fn rotated_rectangle_is_a_polygon() {
        let item = json!({"type": "rectanglelabels", "original_width": 200, "original_height": 100,
            "value": {"x": 10, "y": 10, "width": 20, "height": 20, "rotation": 90,
                      "rectanglelabels": ["a"]}});
        let r = region(&item).unwrap();
        let Shape::Polygon(p) = &r.shape else { panic!("{r:?}") };
        assert_eq!(p.len(), 4);
        // 40 × 20 pixels turned a quarter about (20, 10): corners (20, 10), (20, 50), (0, 50),
        // (0, 10) in pixels; in percentages 10 × 40 = 400, the right angles kept.
        assert!((polygon_area(p).abs() - 400.0).abs() < 1e-9);
        assert!(p.iter().any(|&(x, y)| x.abs() < 1e-9 && (y - 50.0).abs() < 1e-9), "{p:?}");
    }

    /// The same box with and without the image size is the same region (the size matters
    /// only to a rotation).
    #[test]
    fn image_size_does_not_move_a_box() {
        let with = json!([{"type": "rectanglelabels", "original_width": 1000, "original_height": 800,
            "value": {"x": 10, "y": 10, "width": 20, "height": 20, "rectanglelabels": ["a"]}}]);
        let without = json!([{"type": "rectanglelabels",
            "value": {"x": 10, "y": 10, "width": 20, "height": 20, "rectanglelabels": ["a"]}}]);
        assert_eq!(match_items(&with.to_string(), &without.to_string()).ious, vec![1.0]);
    }

    /// A bow tie crosses itself: no region, so never a wrong IoU.
    #[test]
    fn self_crossing_polygons_are_no_regions() {
        let polygon = |points: Value| json!({"type": "polygonlabels", "value": {"points": points, "polygonlabels": ["a"]}});
        assert_eq!(region(&polygon(json!([[0, 0], [10, 10], [10, 0], [0, 9]]))), None);
        assert!(region(&polygon(json!([[0, 0], [10, 0], [10, 10], [0, 10]]))).is_some());
        // Touching itself at a corner counts as crossing too.
        let pinched = json!([[0, 0], [4, 4], [8, 0], [8, 8], [4, 4], [0, 8]]);
        assert_eq!(region(&polygon(pinched)), None);
    }

    /// Polygons of 300 corners: pairs that cannot reach IoU 0.5 are skipped before any
    /// clipping (a segmentation with many large polygons took 79 s in a debug build when
    /// every pair was clipped), and the pairs that can still match.
    #[test]
    fn large_polygons_match_fast_and_exactly() {
        let circle = |cx: f64| -> Region {
            let points = (0..300)
                .map(|k| {
                    let t = k as f64 / 300.0 * std::f64::consts::TAU;
                    (cx + t.cos(), 50.0 + t.sin())
                })
                .collect();
            Region { labels: vec!["a".into()], shape: Shape::Polygon(points) }
        };
        let a: Vec<Region> = (0..30).map(|k| circle(k as f64 * 3.0)).collect();
        let shifted: Vec<Region> = (0..30).map(|k| circle(k as f64 * 3.0 + 0.2)).collect();
        let ious = match_regions(&a, &shifted);
        assert_eq!(ious.len(), 30);
        assert!(ious.iter().all(|&v| v > 0.7 && v < 1.0), "{ious:?}");
        // The 870 pairs of circles 3 apart never reach the clipper.
        assert!(a.iter().skip(1).all(|r| !could_match(&a[0].shape, &r.shape)));
    }

    #[test]
    fn spans_and_matching() {
        let span = |s: f64, e: f64, l: &str| {
            region(&json!({"type": "labels", "value": {"start": s, "end": e, "labels": [l]}}))
                .unwrap()
        };
        let a = vec![span(0.0, 10.0, "PER"), span(20.0, 30.0, "ORG")];
        let b = vec![span(0.0, 8.0, "PER"), span(20.0, 30.0, "PER"), span(21.0, 30.0, "ORG")];
        assert_eq!(match_regions(&a, &b), vec![0.9, 0.8]);
        // Greedy: the best pair first, each region once.
        let c = vec![span(0.0, 10.0, "X"), span(0.0, 12.0, "X")];
        let d = vec![span(0.0, 11.0, "X")];
        assert_eq!(match_regions(&c, &d).len(), 1);
    }

    #[test]
    fn bad_items_are_no_regions() {
        for text in [
            "",
            "nul",
            "{}",
            "[1, null, {\"type\": 3}]",
            "[{\"type\": \"polygon\", \"value\": {\"points\": [[1]]}}]",
        ] {
            assert!(read_regions(text).is_empty(), "{text}");
        }
        let m = match_items("[]", "not json");
        assert_eq!(m, Matching::default());
    }
}

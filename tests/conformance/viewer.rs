//! What a viewer reads: an alert's stamps (stored once, by id; a stock's
//! newest by time) and counts per channel and per (unit, code).

use super::*;

fn stamps(id: i64, stock: i64, jd: f64, fill: u8) -> CutoutDoc {
    CutoutDoc {
        id,
        stock,
        jd,
        science: Some(vec![fill; 300]),
        template: None,
        difference: Some(vec![0x1f, 0x8b, fill]),
    }
}

pub fn cutouts(a: &mut dyn Archive) {
    a.write(vec![
        WriteOp::Cutout(stamps(11, 1, 2460000.5, 1)),
        WriteOp::Cutout(stamps(12, 1, 2460002.5, 2)),
        WriteOp::Cutout(stamps(13, 1, 2460001.5, 3)),
        WriteOp::Cutout(stamps(21, 2, 2460000.5, 4)),
    ])
    .unwrap();
    // A redelivered alert carries the same stamps: the first write stays.
    a.write(vec![WriteOp::Cutout(stamps(12, 1, 2460002.5, 9))])
        .unwrap();
    assert_eq!(a.cutout(12).unwrap(), Some(stamps(12, 1, 2460002.5, 2)));
    assert_eq!(a.cutout(99).unwrap(), None);
    assert_eq!(
        a.latest_cutout(1).unwrap().map(|c| c.id),
        Some(12),
        "newest by jd, not by id"
    );
    assert_eq!(a.latest_cutout(2).unwrap().map(|c| c.id), Some(21));
    assert_eq!(a.latest_cutout(3).unwrap(), None);
}

pub fn viewer_counts(a: &mut dyn Archive) {
    let mut ops = vec![
        stock_op(1, "A", "ZTF20aaaaaaa", 1.0),
        stock_op(2, "A", "ZTF20aaaaaab", 1.0),
        stock_op(2, "B", "ZTF20aaaaaab", 2.0),
    ];
    for s in 1..=3 {
        ops.push(WriteOp::T2Ticket(ticket(s, "U", s * 100, "A")));
    }
    ops.push(WriteOp::T2Ticket(ticket(1, "V", 100, "A")));
    ops.push(WriteOp::T2Code {
        key: key(2, "U", 200),
        code: code::RUNNING,
    });
    a.write(ops).unwrap();
    let channels: Vec<(String, u64)> = a.channel_counts().unwrap().into_iter().collect();
    assert_eq!(channels, [("A".to_string(), 2), ("B".to_string(), 1)]);
    let outcomes: Vec<((String, i64), u64)> = a.t2_outcomes().unwrap().into_iter().collect();
    assert_eq!(
        outcomes,
        [
            (("U".to_string(), code::RUNNING), 1),
            (("U".to_string(), code::NEW), 2),
            (("V".to_string(), code::NEW), 1),
        ]
    );
}

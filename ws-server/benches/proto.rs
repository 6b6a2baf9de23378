//! Micro-benchmarks of the protocol engine: `cargo bench -p ws-server --bench proto`.

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use ws_server::{
    Limits,
    proto::{Decoder, FrameHeader, Inflater, OutFrame, Utf8Validator, apply_mask, compress},
};

const SIZES: [usize; 3] = [16, 1024, 64 * 1024];
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A masked client frame carrying `payload`.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    match payload.len() {
        len if len < 126 => out.push(0x80 | len as u8),
        len if len <= 0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&KEY);
    out.extend(payload.iter().zip(KEY.iter().cycle()).map(|(b, k)| b ^ k));
    out
}

/// Text with some non-ASCII, as chat messages have.
fn text(len: usize) -> String {
    "Grüße, 世界! hello "
        .chars()
        .cycle()
        .take(len)
        .collect::<String>()
}

fn header_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("header_parse");
    for len in SIZES {
        let frame = client_frame(0x2, &vec![0u8; len]);
        group.bench_with_input(BenchmarkId::from_parameter(len), &frame, |b, frame| {
            b.iter(|| FrameHeader::parse(black_box(frame)))
        });
    }
    group.finish();
}

fn unmask(c: &mut Criterion) {
    let mut group = c.benchmark_group("unmask");
    for len in SIZES {
        // Where a payload lies: behind its frame's header in the buffer it was read into.
        let header_len = client_frame(0x2, &vec![0; len]).len() - len;
        let mut read = vec![0x5au8; header_len + len];
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(BenchmarkId::new("after_header", len), |b| {
            b.iter(|| apply_mask(black_box(&mut read[header_len..]), KEY, 0))
        });
        let mut aligned = vec![0x5au8; len];
        group.bench_function(BenchmarkId::new("aligned", len), |b| {
            b.iter(|| apply_mask(black_box(&mut aligned), KEY, 0))
        });
    }
    group.finish();
}

fn utf8(c: &mut Criterion) {
    let mut group = c.benchmark_group("utf8_validate");
    for len in SIZES {
        let data = text(len);
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(len), &data, |b, data| {
            b.iter(|| {
                let mut validator = Utf8Validator::default();
                validator.feed(black_box(data.as_bytes())).is_ok() && validator.finish().is_ok()
            })
        });
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame_encode");
    for len in SIZES {
        let payload = Bytes::from(vec![1u8; len]);
        group.bench_with_input(BenchmarkId::from_parameter(len), &payload, |b, payload| {
            b.iter(|| OutFrame::binary(black_box(payload.clone())))
        });
    }
    group.finish();
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_message");
    for len in SIZES {
        let frame = client_frame(0x1, text(len).as_bytes());
        group.throughput(Throughput::Bytes(frame.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(len), &frame, |b, frame| {
            let mut decoder = Decoder::new(Limits::DEFAULT);
            b.iter(|| {
                let mut buf = BytesMut::from(&frame[..]);
                decoder.decode(black_box(&mut buf)).ok().flatten()
            })
        });
    }
    group.finish();
}

fn deflate(c: &mut Criterion) {
    let mut group = c.benchmark_group("deflate");
    for len in [1024, 64 * 1024] {
        let data = text(len);
        group.throughput(Throughput::Bytes(data.len() as u64));
        group.bench_with_input(BenchmarkId::new("compress", len), &data, |b, data| {
            b.iter(|| compress(black_box(data.as_bytes()), 15, 1))
        });
        let compressed = compress(data.as_bytes(), 15, 1);
        group.bench_with_input(BenchmarkId::new("inflate", len), &compressed, |b, input| {
            let mut inflater = Inflater::new(15);
            let mut out = Vec::with_capacity(len);
            b.iter(|| {
                out.clear();
                inflater.inflate(black_box(input), &mut out, 1 << 20).ok();
                inflater.finish_message(&mut out, 1 << 20).ok();
                inflater.reset();
                out.len()
            })
        });
    }
    group.finish();
}

criterion_group!(engine, header_parse, unmask, utf8, encode, decode, deflate);
criterion_main!(engine);

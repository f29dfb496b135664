//! stretchwatch: hamstring-stretch monitoring from thigh, shank and pelvis IMUs.
//!
//! The pipeline flows one way: source → decode → sync → orientation → kinematics → form → sinks.
//! Every stage is synchronous and deterministic; time comes from sample timestamps only.

pub mod calibration;
pub mod form;
pub mod geometry;
pub mod kinematics;
pub mod limits;
pub mod live;
pub mod model;
pub mod orientation;
pub mod pipeline;
pub mod protocol;
pub mod record;
pub mod replay;
pub mod report;
pub mod session;
pub mod sim;
pub mod source;
pub mod store;
pub mod web;

//! Compiles `proto/databuild.proto` with protox, a pure-Rust protobuf compiler, so no system `protoc`
//! is needed; pbjson-build adds the proto3 JSON mapping (both field-name spellings, 64-bit ints as
//! numbers or strings) used by the JSON-lines log format.
use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/databuild.proto");
    let descriptors = protox::compile(["databuild.proto"], ["proto"])?;
    let descriptor_bytes = descriptors.encode_to_vec();
    prost_build::Config::new().compile_fds(descriptors)?;
    pbjson_build::Builder::new()
        .register_descriptors(&descriptor_bytes)?
        .ignore_unknown_fields()
        // Write DESIGN's spelling (`event_id`); reading accepts lowerCamelCase too.
        .preserve_proto_field_names()
        .build(&[".databuild.v1"])?;
    use_fast_numbers()
}

/// pbjson reads a number through an untagged enum, which builds and formats an error message for
/// every number before it succeeds: a fifth of decoding a JSON line. `proto::json_number` reads the
/// same inputs (a JSON number, or a string holding one) in one pass.
fn use_fast_numbers() -> Result<(), Box<dyn std::error::Error>> {
    let generated = std::path::Path::new(&std::env::var("OUT_DIR")?).join("databuild.v1.serde.rs");
    let code = std::fs::read_to_string(&generated)?;
    let slow = "::pbjson::private::NumberDeserialize";
    if !code.contains(slow) {
        return Err(format!("{} no longer uses {slow}: update build.rs", generated.display()).into());
    }
    std::fs::write(&generated, code.replace(slow, "crate::proto::json_number::NumberDeserialize"))?;
    Ok(())
}

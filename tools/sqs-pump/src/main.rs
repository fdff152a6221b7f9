//! `sqs-pump --queue-url URL --function NAME [--invoke-port 9000] [--until-empty]`: feeds a
//! moto queue to a function served by `cargo lambda watch`, like an SQS event source mapping.

use clap::Parser;

#[derive(Parser)]
#[command(about = "Local SQS event source mapping: a moto queue into a cargo lambda watch function")]
struct Args {
    #[arg(long)]
    queue_url: String,
    /// The function's name under `cargo lambda watch`.
    #[arg(long)]
    function: String,
    #[arg(long, default_value_t = 9000)]
    invoke_port: u16,
    /// Stop after a pass that received nothing (otherwise run until stopped).
    #[arg(long)]
    until_empty: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = shared::aws::sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{}/2015-03-31/functions/{}/invocations", args.invoke_port, args.function);
    loop {
        let pass = sqs_pump::pass(&sqs, &args.queue_url, 1, |event| sqs_pump::invoke_http(&http, &url, event)).await?;
        if pass.received > 0 {
            let queue = args.queue_url.rsplit('/').next().unwrap_or(&args.queue_url);
            println!(
                "{queue} -> {}: {} message(s) received, {} handled and deleted, {} left for redelivery",
                args.function, pass.received, pass.deleted, pass.left
            );
        } else if args.until_empty {
            return Ok(());
        }
    }
}

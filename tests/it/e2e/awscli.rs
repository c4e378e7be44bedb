//! Real consumers: the AWS CLI and boto3 use `jit` as credential_process and through `jit exec`,
//! against moto as the AWS endpoint; the portal stand-in mints the keys with a real AssumeRole.

use crate::support::{Moto, Sandbox, StandIn, finish, moto, start_moto, venv_bin};

#[track_caller]
fn stand_in_on(moto: &Moto) -> StandIn {
    let stand_in = StandIn::start();
    stand_in.state().sts = Some(moto.url.clone());
    stand_in
}

/// Profiles `dev` and `prod` whose credential_process is `jit aws`, in duplo-jit's spellings.
#[track_caller]
fn profiles(sb: &Sandbox, stand_in: &StandIn) {
    let user = sb.token_file(&stand_in.user_token);
    let admin = sb.token_file(&stand_in.admin_token);
    let url = stand_in.url.as_str();
    let dev = sb
        .aws()
        .args(["-tenant", "dev01", "-host", url, "-token-file", &user]);
    let prod = sb
        .aws()
        .args(["--tenant=prod01", "--host", url, "--token-file", &admin]);
    sb.write_aws_config(&format!(
        "[profile dev]\nregion = us-west-2\ncredential_process = {}\n\n\
         [profile prod]\nregion = us-west-2\ncredential_process = {}\n",
        dev.command_line(),
        prod.command_line()
    ));
}

/// Reads moto's request recorder, which is global to the server: hence a moto of its own, as on
/// the shared one the calls of every other test running beside it would be in the recording.
#[test]
fn aws_cli_uses_jit_as_credential_process() {
    let mut moto = start_moto();
    let stand_in = stand_in_on(&moto);
    let sb = Sandbox::new();
    profiles(&sb, &stand_in);
    let (id, log) = moto.record(|moto| {
        sb.aws_cli(
            moto,
            &[
                "sts",
                "get-caller-identity",
                "--profile",
                "dev",
                "--output",
                "json",
            ],
        )
        .ok()
        .json()
    });
    assert_eq!(
        id["Arn"],
        "arn:aws:sts::111111111111:assumed-role/duploservices-dev01/alice"
    );
    let key = stand_in.last_key();
    assert!(key.starts_with("ASIA"), "{key}");
    let signed: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("GetCallerIdentity") || l.contains("\"POST\""))
        .filter(|l| !l.contains("AKIAPORTALSTANDIN000"))
        .collect();
    assert!(!signed.is_empty(), "moto recorded the CLI call: {log}");
    for line in signed {
        assert!(
            line.contains(&format!("Credential={key}/")),
            "signed with the key jit printed: {line}"
        );
    }
    // The second CLI run is served from jit's cache: no new AssumeRole.
    sb.aws_cli(&moto, &["sts", "get-caller-identity", "--profile", "dev"])
        .ok();
    assert_eq!(stand_in.cred_calls(), 1);
}

#[test]
fn tenants_map_to_separate_accounts_through_exec_and_boto3() {
    let stand_in = stand_in_on(moto());
    let sb = Sandbox::new();
    profiles(&sb, &stand_in);
    sb.standard_config(&stand_in);
    let script = "import boto3,sys\nec2=boto3.client('ec2',region_name='us-west-2')\n\
                  sts=boto3.client('sts')\nprint(sts.get_caller_identity()['Account'])\n\
                  if sys.argv[1]=='create':\n    ec2.create_vpc(CidrBlock='10.42.0.0/16')\n\
                  print(sum(1 for v in ec2.describe_vpcs()['Vpcs'] if v['CidrBlock']=='10.42.0.0/16'))\n";
    let py = venv_bin("python");
    let dev = sb
        .jit_cmd(["exec", "dev", "--", py.to_str().expect("utf8")])
        .args(["-c", script, "create"])
        .env("AWS_ENDPOINT_URL", &moto().url)
        .ok()
        .stdout;
    let dev_lines: Vec<&str> = dev.lines().collect();
    assert_eq!(dev_lines[0], "111111111111");
    assert!(dev_lines[1].parse::<u32>().expect("count") >= 1);
    // boto3 through credential_process, in the other tenant's account: dev's VPC is not there.
    let mut cmd = sb.command(&py);
    cmd.env("AWS_ENDPOINT_URL", &moto().url)
        .env("AWS_PROFILE", "prod")
        .args(["-c", script, "look"]);
    let prod = finish(cmd.output().expect("boto3")).ok().stdout;
    assert_eq!(prod, "222222222222\n0\n");
}

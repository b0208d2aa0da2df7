import { type CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';

/** A deployed stack's outputs by key, and where they were read from (for messages that say what to fix). */
export interface StackOutputs {
  readonly stackName: string;
  readonly region: string;
  get(key: string): string | undefined;
  /** The output's value; throws a sentence naming the stack, the output and how to get it when it is missing. */
  require(key: string): string;
}

/** The stack is not there, or cannot be read with these credentials: a sentence a person can act on. */
export class StackOutputsError extends Error {
  override readonly name = 'StackOutputsError';
}

/**
 * Reads a deployed stack's outputs (CloudFormation DescribeStacks): the names the platform chose for its tables
 * and policies at deploy time, so nobody copies them by hand.
 */
export async function readStackOutputs(
  cloudFormation: CloudFormationClient,
  stackName: string,
  region: string,
): Promise<StackOutputs> {
  let outputs: Map<string, string>;
  try {
    const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = Stacks?.[0];
    if (!stack) throw new StackOutputsError(`stack ${stackName} was not found in ${region}`);
    outputs = new Map(
      (stack.Outputs ?? []).flatMap((output) =>
        output.OutputKey && output.OutputValue !== undefined ? [[output.OutputKey, output.OutputValue]] : [],
      ),
    );
  } catch (error) {
    if (error instanceof StackOutputsError) throw error;
    const { name, message } = error as Error;
    if (name === 'ValidationError' && /does not exist/.test(message)) {
      throw new StackOutputsError(
        `stack ${stackName} does not exist in ${region}: deploy the platform (npx cdk deploy --all) or pass ` +
          '--stack and --region',
      );
    }
    if (name === 'CredentialsProviderError' || /credential/i.test(message)) {
      throw new StackOutputsError(
        `no AWS credentials to read stack ${stackName} (${message}): set AWS_PROFILE, or run with --local`,
      );
    }
    throw new StackOutputsError(`reading stack ${stackName} in ${region} failed: ${name}: ${message}`);
  }
  return {
    stackName,
    region,
    get: (key) => outputs.get(key),
    require: (key) => {
      const value = outputs.get(key);
      if (value === undefined) {
        throw new StackOutputsError(
          `stack ${stackName} in ${region} has no output ${key}: deploy this version of the platform ` +
            '(npx cdk deploy --all)',
        );
      }
      return value;
    },
  };
}

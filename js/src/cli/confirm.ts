import { createInterface } from 'node:readline';

/**
 * Asks a yes/no question on the terminal (the question on stderr, so stdout stays data).
 * Resolves true only for "y" or "yes"; an empty answer, anything else, end of input or
 * Ctrl-C mean no.
 */
export function confirm(question: string, input: NodeJS.ReadStream, output: NodeJS.WriteStream): Promise<boolean> {
  return new Promise((resolve) => {
    const prompt = createInterface({ input, output, terminal: input.isTTY === true });
    let answered = false;
    prompt.question(`${question} [y/N] `, (answer) => {
      answered = true;
      prompt.close();
      resolve(/^\s*y(es)?\s*$/i.test(answer));
    });
    prompt.once('close', () => {
      if (!answered) {
        output.write('\n');
        resolve(false);
      }
    });
    prompt.once('SIGINT', () => prompt.close());
  });
}

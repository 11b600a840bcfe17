/** Every `qinspect` command, in the order `qinspect --help` lists them. Add a command: one file here, one line below. */
import type { Command } from '../command';
import { infoCommand } from './info';
import { evalCommand } from './eval';
import { demoCommand } from './demo';
import { quantizeCommand } from './quantize';
import { sensitivityCommand } from './sensitivity';
import { reportCommand } from './report';

export const COMMANDS: Command[] = [infoCommand, evalCommand, demoCommand, quantizeCommand, sensitivityCommand, reportCommand];

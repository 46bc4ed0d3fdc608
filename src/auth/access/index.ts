/** Access control: the AWS policy language and its evaluation. */
export * from './policy.js';
export * from './evaluate.js';

// ESLint (flat config): typescript-eslint's type-aware rules on every workspace's sources, and on
// the tests, scripts, test kit and devkit (through tsconfig.tools.json, which type-checks them).
// Promises must be awaited, returned or explicitly `void`ed (no-floating-promises).
// Sizes: no hand-written function over 80 lines and no file over 300 (blank lines and comments
// aside), except the files still named below, which only get shorter.
// graphql-eslint on the subgraphs' schemas: every type, field, argument and enum value described.
import graphqlPlugin from '@graphql-eslint/eslint-plugin';
import tseslint from 'typescript-eslint';

const typeAwareRules = {
  '@typescript-eslint/no-floating-promises': 'error',
  '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
  '@typescript-eslint/await-thenable': 'error',
  '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
  '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
};
const sources = [
  'platform/src/**/*.ts',
  'schema/src/**/*.ts',
  'gateway/src/**/*.ts',
  'subgraphs/*/src/**/*.ts',
  'client/src/**/*.ts',
  'identity-provider/src/**/*.ts',
];
const toolsAndTests = [
  'scripts/**/*.ts',
  'tests/**/*.ts',
  'test-kit/src/**/*.ts',
  'devkit/src/**/*.ts',
  'platform/test/**/*.ts',
  'schema/test/**/*.ts',
  'gateway/test/**/*.ts',
  'subgraphs/*/test/**/*.ts',
];

export default tseslint.config(
  { ignores: ['**/dist/**', '**/generated/**', 'node_modules/**', '.data/**', 'test-results/**'] },
  {
    files: sources,
    extends: [tseslint.configs.base],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: typeAwareRules,
  },
  {
    files: toolsAndTests,
    extends: [tseslint.configs.base],
    languageOptions: { parserOptions: { project: ['./tsconfig.tools.json'], tsconfigRootDir: import.meta.dirname } },
    rules: typeAwareRules,
  },
  {
    files: [...sources, 'test-kit/src/**/*.ts', 'devkit/src/**/*.{ts,mjs}', 'scripts/lib/**/*.{ts,mjs}', 'scripts/*.mjs'],
    rules: {
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
      'max-lines': ['error', { max: 300, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    files: ['subgraphs/*/schema.graphql'],
    languageOptions: { parser: graphqlPlugin.parser },
    plugins: { '@graphql-eslint': graphqlPlugin },
    rules: {
      '@graphql-eslint/require-description': [
        'error',
        {
          types: true,
          FieldDefinition: true,
          InputValueDefinition: true,
          EnumValueDefinition: true,
          DirectiveDefinition: true,
        },
      ],
    },
  },
);
